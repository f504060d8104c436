//! Arrays sent in parts (`ARRAY_PART`, docs/protocol.md "Large arrays in
//! parts"): a client sends a big array as parts of about 1 MiB, each its own
//! small WebSocket message, then the message that uses it with
//! `{"__ndarray__": dtype, "shape": [...], "transfer": id}` in its place.
//!
//! Each part is copied once, straight into the array's typed buffer, which is
//! allocated at its final size when the first part arrives. A whole message
//! is never reassembled, so a big array costs one pass over fresh memory on
//! the viewer instead of three (reassembly, decode, and the growth of the
//! connection's read buffer).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::array::{ArrayData, DType, NdArray};
use crate::envelope::Envelope;
use crate::limits::{MAX_REFUSED_TRANSFERS, MAX_TRANSFERS, TRANSFER_OVERHEAD_BYTES};
use crate::value::Value;

/// One array being received: its typed buffer and the bytes it will hold.
#[derive(Debug)]
struct Builder {
    dtype: DType,
    data: ArrayData,
    /// Bytes announced by the first part.
    nbytes: usize,
    /// Bytes received so far.
    got: usize,
}

fn with_capacity(dtype: DType, n: usize) -> ArrayData {
    match dtype {
        DType::Bool | DType::U8 => ArrayData::U8(Arc::new(Vec::with_capacity(n))),
        DType::I8 => ArrayData::I8(Arc::new(Vec::with_capacity(n))),
        DType::U16 => ArrayData::U16(Arc::new(Vec::with_capacity(n))),
        DType::I16 => ArrayData::I16(Arc::new(Vec::with_capacity(n))),
        DType::U32 => ArrayData::U32(Arc::new(Vec::with_capacity(n))),
        DType::I32 => ArrayData::I32(Arc::new(Vec::with_capacity(n))),
        DType::U64 => ArrayData::U64(Arc::new(Vec::with_capacity(n))),
        DType::I64 => ArrayData::I64(Arc::new(Vec::with_capacity(n))),
        DType::F32 => ArrayData::F32(Arc::new(Vec::with_capacity(n))),
        DType::F64 => ArrayData::F64(Arc::new(Vec::with_capacity(n))),
    }
}

/// Appends little-endian `bytes` (whole elements) to `v`.
fn extend<T: bytemuck::Pod>(v: &mut Arc<Vec<T>>, bytes: &[u8]) {
    let v = Arc::get_mut(v).expect("a builder's buffer is not shared until it is finished");
    let size = std::mem::size_of::<T>();
    v.extend(bytes.chunks_exact(size).map(|c| {
        #[cfg_attr(target_endian = "little", allow(unused_mut))]
        let mut x = bytemuck::pod_read_unaligned::<T>(c);
        #[cfg(target_endian = "big")]
        bytemuck::bytes_of_mut(&mut x).reverse();
        x
    }));
}

impl Builder {
    fn push(&mut self, bytes: &[u8]) {
        match &mut self.data {
            ArrayData::U8(v) => extend(v, bytes),
            ArrayData::I8(v) => extend(v, bytes),
            ArrayData::U16(v) => extend(v, bytes),
            ArrayData::I16(v) => extend(v, bytes),
            ArrayData::U32(v) => extend(v, bytes),
            ArrayData::I32(v) => extend(v, bytes),
            ArrayData::U64(v) => extend(v, bytes),
            ArrayData::I64(v) => extend(v, bytes),
            ArrayData::F32(v) => extend(v, bytes),
            ArrayData::F64(v) => extend(v, bytes),
        }
        self.got += bytes.len();
    }
}

/// The arrays a connection is receiving in parts. Bounded: at most
/// [`MAX_TRANSFERS`] arrays at once, and their bytes together, each counted
/// with [`TRANSFER_OVERHEAD_BYTES`] of bookkeeping, stay within `limit` (the
/// server's `max_message_bytes`); at most [`MAX_REFUSED_TRANSFERS`] refused
/// ids are remembered.
/// Bytes announced by arrays in parts on every connection together (the
/// server's `parts_bytes`): each connection is bounded by `max_message_bytes`,
/// and this bounds the sum, so many connections cannot each hold that much.
#[derive(Debug)]
pub struct PartsBudget {
    used: AtomicUsize,
    limit: usize,
}

impl PartsBudget {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self { used: AtomicUsize::new(0), limit })
    }

    /// Bytes announced now, over every connection.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn reserve(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| u.checked_add(n).filter(|&t| t <= self.limit))
            .is_ok()
    }

    fn release(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }
}

#[derive(Debug)]
pub struct Transfers {
    open: HashMap<i64, Builder>,
    /// Transfers refused already: their later parts are dropped quietly (one
    /// error per array, not one per part).
    refused: std::collections::HashSet<i64>,
    bytes: usize,
    limit: usize,
    /// The viewer-wide budget this connection's arrays also count against.
    shared: Option<Arc<PartsBudget>>,
}

impl Transfers {
    pub fn new(limit: usize) -> Self {
        Self { open: HashMap::new(), refused: Default::default(), bytes: 0, limit, shared: None }
    }

    /// Counts this connection's arrays against `budget` too (every connection's together).
    pub fn with_budget(mut self, budget: Arc<PartsBudget>) -> Self {
        self.shared = Some(budget);
        self
    }

    fn release(&mut self, nbytes: usize) {
        self.bytes -= nbytes;
        if let Some(b) = &self.shared {
            b.release(nbytes + TRANSFER_OVERHEAD_BYTES);
        }
    }

    /// Bytes announced by the arrays being received.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Handles one `ARRAY_PART` message: kwargs `transfer` (int), `data`
    /// (bin, whole elements), and on a transfer's first part `dtype` and
    /// `nbytes`. Errors name the field; the transfer is then dropped.
    pub fn part(&mut self, env: &Envelope) -> Result<(), String> {
        let field = |name: &str| env.kwarg(name).filter(|v| !v.is_nil());
        let data = match field("data") {
            Some(Value::Bin(d)) => Some(d.as_slice()),
            _ => None,
        };
        self.add(field("transfer"), field("dtype"), field("nbytes"), data)
    }

    /// Handles `frame` if it is an `ARRAY_PART` message with `type` as its
    /// first key (as the official clients write it), reading its data in
    /// place: `None` if it is not one (decode it as any message), else the
    /// part's `seq` and the outcome.
    pub fn part_frame(&mut self, frame: &[u8]) -> Option<(Option<u64>, Result<(), String>)> {
        match crate::decode::decode_part(frame, crate::MessageType::ArrayPart.as_i64()) {
            Ok(None) => None,
            Ok(Some(p)) => Some((p.seq, self.add(p.transfer.as_ref(), p.dtype.as_ref(), p.nbytes.as_ref(), p.data))),
            Err(e) => Some((None, Err(format!("array_part: {e}")))),
        }
    }

    fn add(
        &mut self,
        transfer: Option<&Value>,
        dtype: Option<&Value>,
        nbytes: Option<&Value>,
        data: Option<&[u8]>,
    ) -> Result<(), String> {
        let id = transfer.and_then(Value::as_i64).ok_or("array_part: field \"transfer\" must be an int")?;
        if self.refused.contains(&id) {
            return Ok(());
        }
        let outcome = self.add_part(id, dtype, nbytes, data);
        if outcome.is_err() {
            self.drop_transfer(id);
            // Bounded: past the limit a refused array's later parts are refused one by one.
            if self.refused.len() < MAX_REFUSED_TRANSFERS {
                self.refused.insert(id);
            }
        }
        outcome
    }

    fn add_part(
        &mut self,
        id: i64,
        dtype: Option<&Value>,
        nbytes: Option<&Value>,
        data: Option<&[u8]>,
    ) -> Result<(), String> {
        let data = data.ok_or("array_part: field \"data\" must be bin (the array's little-endian bytes)")?;
        if !self.open.contains_key(&id) {
            let dtype = dtype
                .and_then(Value::as_str)
                .and_then(DType::parse)
                .ok_or("array_part: the first part needs field \"dtype\" (e.g. \"float32\")")?;
            let nbytes = nbytes
                .and_then(Value::as_i64)
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| n % dtype.size() == 0)
                .ok_or("array_part: the first part needs field \"nbytes\", a whole number of elements")?;
            if self.open.len() >= MAX_TRANSFERS {
                return Err(format!(
                    "array_part: field \"transfer\" {id}: {MAX_TRANSFERS} arrays are already in progress in parts on this connection (the limit); send the message that uses them first"
                ));
            }
            let held = self.held();
            if nbytes.saturating_add(TRANSFER_OVERHEAD_BYTES) > self.limit.saturating_sub(held) {
                return Err(format!(
                    "array_part: field \"nbytes\" ({nbytes}) with the {held} bytes of other parts in progress ({TRANSFER_OVERHEAD_BYTES} bytes of bookkeeping counted per array) exceeds server.max_message_bytes ({})",
                    self.limit
                ));
            }
            if let Some(b) = &self.shared
                && !b.reserve(nbytes + TRANSFER_OVERHEAD_BYTES)
            {
                return Err(format!(
                    "array_part: field \"nbytes\" ({nbytes}): arrays in parts on all connections would hold more than server.parts_bytes ({}); {} bytes are in progress",
                    b.limit,
                    b.used()
                ));
            }
            self.bytes += nbytes;
            let data = with_capacity(dtype, nbytes / dtype.size());
            self.open.insert(id, Builder { dtype, data, nbytes, got: 0 });
        }
        let b = self.open.get_mut(&id).expect("present");
        if data.len() % b.dtype.size() != 0 {
            return Err(format!(
                "array_part: field \"data\" holds {} bytes, not whole {} elements",
                data.len(),
                b.dtype
            ));
        }
        if b.got + data.len() > b.nbytes {
            return Err(format!(
                "array_part: transfer {id} would get {} bytes but announced \"nbytes\" {}",
                b.got + data.len(),
                b.nbytes
            ));
        }
        b.push(data);
        Ok(())
    }

    /// The finished array of transfer `id`, as `dtype` and `shape` (the
    /// message that uses it says them again; they must agree).
    pub fn take(&mut self, id: i64, dtype: DType, shape: Vec<usize>) -> Result<NdArray, String> {
        let b = self.open.remove(&id);
        self.shrink();
        let b = b.ok_or_else(|| {
            if self.refused.contains(&id) {
                format!("\"transfer\" {id}: its parts were refused (see the error before)")
            } else {
                format!("\"transfer\" {id}: no such array parts were sent")
            }
        })?;
        self.release(b.nbytes);
        if b.got != b.nbytes {
            return Err(format!("\"transfer\" {id}: {} of {} bytes arrived", b.got, b.nbytes));
        }
        if b.dtype != dtype && !(matches!(b.dtype, DType::U8 | DType::Bool) && matches!(dtype, DType::U8 | DType::Bool))
        {
            return Err(format!("\"transfer\" {id}: the parts are {} but the array says {dtype}", b.dtype));
        }
        let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if count.and_then(|c| c.checked_mul(dtype.size())) != Some(b.nbytes) {
            return Err(format!("\"transfer\" {id}: {} bytes do not make shape {shape:?} of {dtype}", b.nbytes));
        }
        Ok(NdArray::from_data(dtype, shape, b.data))
    }

    /// Drops every transfer (a message did not use them, or the client
    /// went); returns how many there were.
    pub fn clear(&mut self) -> usize {
        let n = self.open.len();
        if let Some(b) = &self.shared {
            b.release(self.bytes + n * TRANSFER_OVERHEAD_BYTES);
        }
        self.open.clear();
        self.refused.clear();
        self.bytes = 0;
        self.shrink();
        n
    }

    /// Bytes held, as the limit counts them: data plus bookkeeping per array.
    fn held(&self) -> usize {
        self.bytes + self.open.len() * TRANSFER_OVERHEAD_BYTES
    }

    /// Gives back the memory of emptied tables (a burst of thousands of
    /// arrays must not stay allocated for the connection's life).
    fn shrink(&mut self) {
        const KEEP: usize = 64;
        if self.open.is_empty() && self.open.capacity() > KEEP {
            self.open = HashMap::new();
        }
        if self.refused.is_empty() && self.refused.capacity() > KEEP {
            self.refused = Default::default();
        }
    }

    /// Arrays in progress and refused ids remembered (for tests and stats).
    pub fn entries(&self) -> (usize, usize) {
        (self.open.len(), self.refused.len())
    }

    fn drop_transfer(&mut self, id: i64) {
        if let Some(b) = self.open.remove(&id) {
            self.release(b.nbytes);
        }
        self.shrink();
    }
}

impl Drop for Transfers {
    /// A connection that ends gives its share of the viewer-wide budget back.
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_in_parts_on_all_connections_share_one_budget() {
        let budget = PartsBudget::new(1000 + 2 * TRANSFER_OVERHEAD_BYTES);
        let mut a = Transfers::new(1 << 20).with_budget(budget.clone());
        let mut b = Transfers::new(1 << 20).with_budget(budget.clone());
        let first = |t: &mut Transfers, id: i64, n: i64| {
            t.add(Some(&Value::Int(id)), Some(&Value::from("uint8")), Some(&Value::Int(n)), Some(&[1u8][..]))
        };
        first(&mut a, 1, 600).unwrap();
        let err = first(&mut b, 1, 600).unwrap_err();
        assert!(err.contains("server.parts_bytes"), "{err}");
        first(&mut b, 2, 400).unwrap();
        drop(a);
        assert_eq!(budget.used(), 400 + TRANSFER_OVERHEAD_BYTES);
        b.clear();
        assert_eq!(budget.used(), 0);
        let mut c = Transfers::new(1 << 20).with_budget(budget.clone());
        first(&mut c, 3, 900).unwrap();
        assert!(c.take(3, DType::U8, vec![900]).is_err(), "1 of 900 bytes arrived");
        assert_eq!(budget.used(), 0);
    }
    use crate::MessageType;

    fn part(id: i64, data: &[u8], first: Option<(&str, i64)>) -> Envelope {
        let mut e = Envelope::new(MessageType::ArrayPart.as_i64())
            .with_kwarg("transfer", id)
            .with_kwarg("data", Value::Bin(data.to_vec()));
        if let Some((dtype, nbytes)) = first {
            e = e.with_kwarg("dtype", dtype).with_kwarg("nbytes", nbytes);
        }
        e
    }

    #[test]
    fn parts_fill_one_typed_buffer() {
        let floats: Vec<f32> = (0..10).map(|i| i as f32).collect();
        let bytes: Vec<u8> = floats.iter().flat_map(|f| f.to_le_bytes()).collect();
        let mut t = Transfers::new(1000);
        t.part(&part(7, &bytes[..16], Some(("float32", 40)))).unwrap();
        assert_eq!(t.bytes(), 40);
        t.part(&part(7, &bytes[16..], None)).unwrap();
        let a = t.take(7, DType::F32, vec![5, 2]).unwrap();
        assert_eq!((a.shape(), a.to_f32().as_slice()), (&[5, 2][..], floats.as_slice()));
        assert_eq!(t.bytes(), 0);
    }

    #[test]
    fn a_part_frame_is_read_in_place_and_other_frames_are_left_alone() {
        let mut t = Transfers::new(1000);
        let mut env = part(3, &[0, 0, 128, 63], Some(("float32", 4)));
        env.seq = Some(9);
        let frame = crate::encode_value(&env.to_value());
        let (seq, outcome) = t.part_frame(&frame).expect("a part");
        assert_eq!((seq, outcome), (Some(9), Ok(())));
        assert_eq!(t.take(3, DType::F32, vec![1]).unwrap().to_f32().as_slice(), &[1.0]);
        let other = crate::encode_value(&Envelope::new(2).with_uid(1).to_value());
        assert!(t.part_frame(&other).is_none());
        let mut bad = part(4, &[0; 4], None);
        bad.kwargs.retain(|(k, _)| k != "data");
        let (_, outcome) = t.part_frame(&crate::encode_value(&bad.to_value())).unwrap();
        assert!(outcome.unwrap_err().contains("field \"data\" must be bin"));
    }

    #[test]
    fn bad_parts_are_refused_naming_the_field() {
        let mut t = Transfers::new(1000);
        let err = |t: &mut Transfers, e: Envelope| t.part(&e).unwrap_err();
        assert!(err(&mut t, part(1, &[0; 4], None)).contains("needs field \"dtype\""));
        assert!(err(&mut t, part(10, &[0; 4], Some(("float32", 6)))).contains("\"nbytes\", a whole number"));
        assert!(
            err(&mut t, part(11, &[0; 4], Some(("float32", 4000)))).contains("exceeds server.max_message_bytes (1000)")
        );
        // The rest of a refused array is dropped quietly: one error per array.
        assert_eq!(t.part(&part(11, &[0; 4], None)), Ok(()));
        assert!(t.take(11, DType::F32, vec![1]).unwrap_err().contains("its parts were refused"));
        assert!(err(&mut t, part(12, &[0; 3], Some(("float32", 8)))).contains("not whole float32 elements"));
        assert_eq!(t.bytes(), 0, "a refused part drops its transfer");
        t.part(&part(2, &[0; 8], Some(("float32", 8)))).unwrap();
        assert!(err(&mut t, part(2, &[0; 4], None)).contains("would get 12 bytes but announced \"nbytes\" 8"));
        t.part(&part(3, &[0; 4], Some(("float32", 8)))).unwrap();
        assert!(t.take(3, DType::F32, vec![2]).unwrap_err().contains("4 of 8 bytes arrived"));
        t.part(&part(4, &[0; 8], Some(("float32", 8)))).unwrap();
        assert!(t.take(4, DType::F64, vec![1]).unwrap_err().contains("the parts are float32"));
        t.part(&part(5, &[0; 8], Some(("float32", 8)))).unwrap();
        assert!(t.take(5, DType::F32, vec![3]).unwrap_err().contains("do not make shape [3]"));
        assert!(t.take(9, DType::F32, vec![1]).unwrap_err().contains("no such array parts"));
        t.part(&part(6, &[0; 8], Some(("float32", 8)))).unwrap();
        assert_eq!((t.clear(), t.bytes()), (1, 0));
    }

    #[test]
    fn empty_arrays_are_bounded_by_count_and_bookkeeping() {
        // Bookkeeping counts: four empty arrays do not fit in 1000 bytes.
        let mut t = Transfers::new(1000);
        for id in 0..3 {
            t.part(&part(id, &[], Some(("uint8", 0)))).unwrap();
        }
        let e = t.part(&part(3, &[], Some(("uint8", 0)))).unwrap_err();
        assert!(e.contains("field \"nbytes\" (0)") && e.contains("256 bytes of bookkeeping"), "{e}");
        t.clear();

        // Count: at most MAX_TRANSFERS at once, whatever the byte limit.
        let mut t = Transfers::new(usize::MAX);
        for id in 0..MAX_TRANSFERS as i64 {
            t.part(&part(id, &[], Some(("uint8", 0)))).unwrap();
        }
        let e = t.part(&part(-1, &[], Some(("uint8", 0)))).unwrap_err();
        assert!(e.contains("field \"transfer\" -1") && e.contains("4096 arrays are already in progress"), "{e}");
        // Refused ids are remembered up to a bound.
        for id in 0..2 * MAX_REFUSED_TRANSFERS as i64 {
            assert!(t.part(&part(1_000_000 + id, &[], Some(("uint8", 0)))).is_err());
        }
        assert_eq!(t.entries(), (MAX_TRANSFERS, MAX_REFUSED_TRANSFERS));
        // Cleared, the tables give their memory back.
        assert_eq!(t.clear(), MAX_TRANSFERS);
        assert!(t.open.capacity() < 100 && t.refused.capacity() < 100);
    }
}
