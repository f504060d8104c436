//! The decoder thread: newest-wins slots between the UI thread and one
//! background thread that turns images into RGBA8. Reading and decoding
//! themselves are `periscope_ui::images` (the browser view decodes the same way).

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};

pub use periscope_ui::images::*;

/// Newest-wins slots between the UI thread and the decoder thread.
#[derive(Default)]
struct Slots {
    input: BTreeMap<ImageKey, Incoming>,
    output: BTreeMap<ImageKey, Result<Decoded, (Incoming, String)>>,
    closed: bool,
    /// The thread is decoding an image taken from `input`.
    working: bool,
}

/// One background thread decoding images. Every queue in it holds at most one
/// image per window: a newer image replaces a waiting one (counted as dropped).
pub struct Decoder {
    shared: Arc<(Mutex<Slots>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Called after each decoded image (the window asks egui to repaint).
pub type Wake = Arc<dyn Fn() + Send + Sync>;

impl Decoder {
    pub fn new(wake: Arc<Mutex<Option<Wake>>>) -> Self {
        let shared: Arc<(Mutex<Slots>, Condvar)> = Arc::default();
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("periscope-image-decode".into())
            .spawn(move || decode_loop(&s, &wake))
            .expect("can spawn the image decoder thread");
        Self { shared, thread: Some(thread) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.shared.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `img`; true if it replaced an image still waiting for the same window.
    pub fn push(&self, img: Incoming) -> bool {
        let replaced = self.lock().input.insert(img.key, img).is_some();
        self.shared.1.notify_one();
        replaced
    }

    /// Whether images are waiting, being decoded, or decoded and not taken.
    pub fn busy(&self) -> bool {
        let s = self.lock();
        s.working || !s.input.is_empty() || !s.output.is_empty()
    }

    /// Takes every image decoded since the last call (failures carry the image and the reason).
    pub fn take(&self) -> Vec<Result<Decoded, (Incoming, String)>> {
        std::mem::take(&mut self.lock().output).into_values().collect()
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        self.lock().closed = true;
        self.shared.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn decode_loop(shared: &(Mutex<Slots>, Condvar), wake: &Mutex<Option<Wake>>) {
    let (lock, cvar) = shared;
    loop {
        let img = {
            let mut slots = lock.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if slots.closed {
                    return;
                }
                if let Some((_, img)) = slots.input.pop_first() {
                    slots.working = true;
                    break img;
                }
                slots = cvar.wait(slots).unwrap_or_else(|e| e.into_inner());
            }
        };
        let result = decode(&img).map_err(|e| (img, e));
        let key = match &result {
            Ok(d) => d.key,
            Err((i, _)) => i.key,
        };
        {
            let mut slots = lock.lock().unwrap_or_else(|e| e.into_inner());
            slots.output.insert(key, result);
            slots.working = false;
        }
        if let Some(w) = wake.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            w();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use periscope_protocol::{Envelope, MessageType, NdArray, Value};
    use std::time::Instant;

    fn env(images: Value) -> Envelope {
        Envelope::new(MessageType::Images.as_i64()).with_kwarg("images", images)
    }

    #[test]
    fn raw_kinds_become_rgba() {
        let gray =
            NdArray::from_le_bytes(periscope_protocol::DType::U8, vec![2, 3], &[0, 50, 100, 150, 200, 250]).unwrap();
        let rgb = NdArray::from_f32(vec![1, 2, 3], vec![1.0, 0.0, 0.5, 0.0, 2.0, -1.0]);
        let imgs =
            parse(7, &env(Value::Array(vec![Value::NdArray(gray), Value::NdArray(rgb)])), Instant::now()).unwrap();
        assert_eq!(imgs.iter().map(|i| i.key).collect::<Vec<_>>(), [(7, 0), (7, 1)]);
        let g = decode(&imgs[0]).unwrap();
        assert_eq!((g.width, g.height), (3, 2));
        assert_eq!(&g.rgba[4..8], &[50, 50, 50, 255]);
        let c = decode(&imgs[1]).unwrap();
        assert_eq!(c.rgba, [255, 0, 128, 255, 0, 255, 0, 255], "floats clamp to [0, 1]");
    }

    #[test]
    fn encoded_png_and_jpeg_decode() {
        let mut png = Vec::new();
        image::RgbaImage::from_pixel(4, 2, image::Rgba([10, 20, 30, 255]))
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let mut jpg = Vec::new();
        image::RgbImage::from_pixel(16, 8, image::Rgb([200, 30, 30]))
            .write_to(&mut std::io::Cursor::new(&mut jpg), image::ImageFormat::Jpeg)
            .unwrap_or_else(|_| panic!("the jpeg encoder is built in"));
        let list = Value::Array(vec![
            Value::Bin(png),
            Value::map([("format", Value::from("jpeg")), ("data", Value::Bin(jpg))]),
        ]);
        let imgs = parse(1, &env(list), Instant::now()).unwrap();
        let p = decode(&imgs[0]).unwrap();
        assert_eq!((p.width, p.height, p.format), (4, 2, "png"));
        assert_eq!(&p.rgba[..4], &[10, 20, 30, 255]);
        let j = decode(&imgs[1]).unwrap();
        assert_eq!((j.width, j.height, j.format), (16, 8, "jpeg"));
        assert!(j.rgba[0] > 150 && j.rgba[1] < 80, "{:?}", &j.rgba[..4]);
    }

    #[test]
    fn bad_images_name_the_index_and_the_problem() {
        let bad_shape = NdArray::from_f32(vec![2, 2, 2], vec![0.0; 8]);
        let e = parse(1, &env(Value::Array(vec![Value::NdArray(bad_shape)])), Instant::now()).unwrap_err();
        assert!(e.contains("images[0]") && e.contains("(H, W, 3)"), "{e}");
        let ints = NdArray::from_i64(vec![2, 2], vec![0; 4]);
        let e = parse(1, &env(Value::NdArray(ints)), Instant::now()).unwrap_err();
        assert!(e.contains("uint8 or float"), "{e}");
        let e = parse(1, &env(Value::Array(vec![Value::Int(1), Value::Bin(b"GIF89a".to_vec())])), Instant::now())
            .unwrap_err();
        assert!(e.contains("images[0]"), "{e}");
        let e = parse(1, &env(Value::Bin(b"GIF89a".to_vec())), Instant::now()).unwrap_err();
        assert!(e.contains("neither JPEG nor PNG"), "{e}");
        // Truncated JPEG: accepted on arrival (cheap check), refused by the decoder with a reason.
        let imgs = parse(1, &env(Value::Bin(vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 1])), Instant::now()).unwrap();
        assert!(decode(&imgs[0]).unwrap_err().contains("cannot decode the jpeg"));
    }

    /// A PNG that is only a header (and an empty IDAT): what a bomb looks like before its data.
    fn png_header(w: u32, h: u32) -> Vec<u8> {
        fn crc32(bytes: &[u8]) -> u32 {
            let mut crc = !0u32;
            for &b in bytes {
                crc ^= u32::from(b);
                for _ in 0..8 {
                    crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
                }
            }
            !crc
        }
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend(w.to_be_bytes());
        ihdr.extend(h.to_be_bytes());
        ihdr.extend([8, 6, 0, 0, 0]);
        for (kind, data) in [(&b"IHDR"[..], &ihdr[..]), (b"IDAT", &[]), (b"IEND", &[])] {
            png.extend((data.len() as u32).to_be_bytes());
            let body = [kind, data].concat();
            png.extend(&body);
            png.extend(crc32(&body).to_be_bytes());
        }
        png
    }

    #[test]
    fn sizes_are_known_before_decoding() {
        let imgs = parse(1, &env(Value::Bin(png_header(16_384, 8_192))), Instant::now()).unwrap();
        assert_eq!(imgs[0].size, Some((16_384, 8_192)));
        assert_eq!(imgs[0].decoded_bytes(), 16_384 * 8_192 * 4);
        let e = parse(1, &env(Value::Array(vec![Value::Bin(png_header(20_000, 4))])), Instant::now()).unwrap_err();
        assert!(e.starts_with("images[0]: image size 20000x4 (from the png header) is outside 1..=16384"), "{e}");
        let list = Value::Array(vec![Value::Bin(png_header(1, 1)); MAX_WINDOWS + 1]);
        let e = parse(1, &env(list), Instant::now()).unwrap_err();
        assert!(e.contains("has 65 images"), "{e}");
        // An image whose data does not match its header: refused by the decoder, within the header's size.
        let imgs = parse(1, &env(Value::Bin(png_header(64, 64))), Instant::now()).unwrap();
        assert!(decode(&imgs[0]).unwrap_err().contains("cannot decode the png"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]
        /// Image bytes from a client: any content after a JPEG or PNG signature is an error or an image.
        #[test]
        fn arbitrary_encoded_images_never_panic(png in proptest::prelude::any::<bool>(), body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let mut bytes = if png { b"\x89PNG\r\n\x1a\n".to_vec() } else { vec![0xFF, 0xD8, 0xFF] };
            bytes.extend(body);
            if let Ok(imgs) = parse(1, &env(Value::Bin(bytes)), Instant::now()) {
                let _ = decode(&imgs[0]);
            }
        }
    }

    #[test]
    fn decoder_keeps_only_the_newest_per_window() {
        let wake: Arc<Mutex<Option<Wake>>> = Arc::default();
        let d = Decoder::new(wake);
        // Stall the decoder by holding the lock while pushing twice for one window.
        let mk = |v: u8| Incoming {
            key: (1, 0),
            payload: Payload::Raw(NdArray::from_le_bytes(periscope_protocol::DType::U8, vec![1, 1], &[v]).unwrap()),
            seq: Some(u64::from(v)),
            camera_seq: None,
            received: Instant::now(),
            viewport: None,
            size: Some((1, 1)),
        };
        let replaced = {
            let mut slots = d.lock();
            slots.input.insert((1, 0), mk(1));
            slots.input.insert((1, 0), mk(2)).is_some()
        };
        assert!(replaced);
        d.shared.1.notify_one();
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let got = loop {
            let t = d.take();
            if !t.is_empty() {
                break t;
            }
            assert!(Instant::now() < deadline, "decoder never answered");
            std::thread::sleep(std::time::Duration::from_millis(2));
        };
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_ref().unwrap().seq, Some(2));
    }
}
