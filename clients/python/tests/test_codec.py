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


def test_fragments_decode_to_the_same_message_and_never_exceed_their_size():
    from periscope.codec import array_bytes, pack_fragments

    big = np.arange(100_000, dtype=np.float32).reshape(-1, 4)
    msg = {"type": 2, "uid": 7, "args": [big, np.array([[0, 1, 2]], np.int64), np.zeros(0, np.float32)],
           "kwargs": {"name": "x", "scale": np.float32(2.5), "nested": [big[:3], {"k": (1, 2)}]}, "seq": 3}
    pieces = list(pack_fragments(msg, 4096))
    assert all(len(p) <= 4096 for p in pieces) and len(pieces) > 90
    out = unpack(b"".join(pieces))
    np.testing.assert_array_equal(out["args"][0], big)
    np.testing.assert_array_equal(out["args"][1], [[0, 1, 2]])
    assert out["args"][2].shape == (0,)
    assert out["kwargs"]["scale"] == 2.5 and out["kwargs"]["nested"][1] == {"k": [1, 2]}
    np.testing.assert_array_equal(out["kwargs"]["nested"][0], big[:3])
    assert array_bytes(msg) == big.nbytes + 24 + big[:3].nbytes


def test_a_large_message_sent_in_fragments_arrives_whole(viewer_process):
    from periscope import RemoteMeshes, RemoteViewer

    frames = np.random.default_rng(0).random((40, 6890, 3), dtype=np.float32)  # 3.3 MB: fragmented
    with RemoteViewer("127.0.0.1", viewer_process.port) as v:
        m = RemoteMeshes(v, frames, np.array([[0, 1, 2]]))
        assert v.sync()["nodes"][0]["n_frames"] == 40
        np.testing.assert_array_equal(v.query_data(m, "vertices", frame=39), frames[39])


def test_big_arrays_are_split_into_parts_made_from_their_memory():
    from periscope import codec

    a = np.arange(100_000, dtype=np.float32).reshape(50_000, 2)  # 400 KB
    small = np.zeros(3, np.float32)
    head = a[:10].astype(np.int16)  # 40 bytes: stays in the message
    msg = {"type": 2, "args": [a, small], "kwargs": {"colors": [head]}}
    ids = iter(range(7, 100))
    out, arrays = codec.split_parts(msg, ids)
    assert out["type"] == 2 and list(out["kwargs"]) == ["colors"] and len(out["args"]) == 2
    assert out["args"][0] == {"__ndarray__": "float32", "shape": [50_000, 2], "transfer": 7}
    # Small arrays stay in place, nested ones too, and travel inline: the
    # packed message decodes to their dtype, shape and values.
    assert out["args"][1] is small and len(out["kwargs"]["colors"]) == 1
    back = codec.unpack(codec.pack({"small": out["args"][1], "kwargs": out["kwargs"]}))
    for sent, got in [(small, back["small"]), (head, back["kwargs"]["colors"][0])]:
        assert isinstance(got, np.ndarray) and got.dtype == sent.dtype and got.shape == sent.shape
        np.testing.assert_array_equal(got, sent)
    # The big array is taken out whole, in wire form.
    assert [t for t, _ in arrays] == [7]
    wire = arrays[0][1]
    assert wire.dtype == np.float32 and wire.shape == a.shape and wire.flags.c_contiguous
    np.testing.assert_array_equal(wire, a)
    parts = [codec.unpack(p) for p in codec.part_messages(7, arrays[0][1], seq=5)]
    assert len(parts) == -(-a.nbytes // codec.PART_SIZE)
    assert all(p["type"] == 330 and p["seq"] == 5 and p["kwargs"]["transfer"] == 7 for p in parts)
    assert parts[0]["kwargs"]["dtype"] == "float32" and parts[0]["kwargs"]["nbytes"] == a.nbytes
    assert "dtype" not in parts[1]["kwargs"]
    joined = b"".join(p["kwargs"]["data"] for p in parts)
    assert np.array_equal(np.frombuffer(joined, np.float32).reshape(a.shape), a)
