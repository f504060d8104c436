import numpy as np
import pytest

from periscope import pack, unpack


def test_arrays_round_trip_without_per_element_work():
    for dtype in ["float32", "float64", "int32", "int64", "uint32", "uint8", "bool"]:
        a = (np.arange(24) % 2).astype(dtype).reshape(2, 3, 4)
        b = unpack(pack({"a": a}))["a"]
        assert b.dtype == a.dtype and b.shape == a.shape
        np.testing.assert_array_equal(a, b)


def test_wire_format_is_the_documented_map():
    a = np.array([[1.0, 2.0]], dtype=np.float32)
    import msgpack

    raw = msgpack.unpackb(pack(a), raw=False)
    assert list(raw) == ["__ndarray__", "shape", "data"], "the marker must come first"
    assert raw == {"__ndarray__": "float32", "shape": [1, 2], "data": a.tobytes()}


def test_non_contiguous_and_big_endian_arrays_are_converted():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]
    np.testing.assert_array_equal(unpack(pack(a)), a)
    be = np.arange(4, dtype=">i4")
    out = unpack(pack(be))
    assert out.dtype == np.dtype("int32")
    np.testing.assert_array_equal(out, be)


def test_scalars_ranges_and_unsupported_types():
    assert unpack(pack({"f": np.float32(1.5), "r": range(3), "t": (1, 2)})) == {"f": 1.5, "r": [0, 1, 2], "t": [1, 2]}
    with pytest.raises(TypeError, match="cannot send a complex64 array"):
        pack(np.zeros(2, dtype=np.complex64))
    with pytest.raises(TypeError, match="cannot send a value of type object"):
        pack(object())


def test_empty_array():
    out = unpack(pack(np.zeros((0, 3), dtype=np.float32)))
    assert out.shape == (0, 3)
