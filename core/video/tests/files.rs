//! Writes real MP4, GIF and PNG-sequence files and decodes them with other
//! tools: `ffprobe`/`ffmpeg` for MP4 (required where PERISCOPE_REQUIRE_FFMPEG
//! is set, as in CI), the `gif` and `png` decoders for the others.

use std::path::{Path, PathBuf};
use std::process::Command;

use periscope_video::{VideoError, VideoFormat, VideoSpec, VideoWriter};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("periscope-video-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Frame `i`: a color that changes with `i` on the left half, white on the right.
fn frame(w: u32, h: u32, i: usize) -> Vec<u8> {
    let mut px = Vec::with_capacity((w * h * 4) as usize);
    for _y in 0..h {
        for x in 0..w {
            if x < w / 2 {
                px.extend_from_slice(&[(i * 20 % 256) as u8, 40, 200, 255]);
            } else {
                px.extend_from_slice(&[255, 255, 255, 255]);
            }
        }
    }
    px
}

fn write(path: &Path, spec: VideoSpec, n: usize) -> periscope_video::Written {
    let mut w = VideoWriter::create(path, spec).unwrap();
    for i in 0..n {
        w.push(frame(spec.width, spec.height, i)).unwrap();
    }
    w.finish().unwrap()
}

fn have(tool: &str) -> bool {
    let found = Command::new(tool).arg("-version").output().is_ok_and(|o| o.status.success());
    if !found && std::env::var_os("PERISCOPE_REQUIRE_FFMPEG").is_some() {
        panic!("{tool} is required (PERISCOPE_REQUIRE_FFMPEG is set) but not installed");
    }
    found
}

#[test]
fn an_mp4_decodes_with_the_frame_count_size_and_colors_written() {
    let dir = scratch("mp4");
    let path = dir.join("clip.mp4");
    let spec = VideoSpec { width: 160, height: 96, fps: 30.0 };
    let out = write(&path, spec, 45);
    assert_eq!((out.frames, out.path.clone()), (45, path.clone()));
    assert!(out.bytes > 1000 && out.bytes == std::fs::metadata(&path).unwrap().len());
    // Nothing else is left in the folder (no partial file).
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    if !have("ffprobe") || !have("ffmpeg") {
        eprintln!("ffprobe/ffmpeg not installed: decoding skipped");
        return;
    }
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries"])
        .args(["stream=codec_name,width,height,nb_read_frames,avg_frame_rate", "-of", "default=nw=1"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&probe.stdout);
    assert!(probe.status.success(), "ffprobe failed: {}", String::from_utf8_lossy(&probe.stderr));
    for want in ["codec_name=h264", "width=160", "height=96", "nb_read_frames=45", "avg_frame_rate=30/1"] {
        assert!(text.contains(want), "{want} not in:\n{text}");
    }
    // The pixels: frame 10's left half is (200, 40, 200), the right half white.
    let raw = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .unwrap();
    assert!(raw.status.success(), "{}", String::from_utf8_lossy(&raw.stderr));
    let frame_len = 160 * 96 * 3;
    assert_eq!(raw.stdout.len(), 45 * frame_len);
    let f10 = &raw.stdout[10 * frame_len..11 * frame_len];
    let px = |x: usize, y: usize| &f10[(y * 160 + x) * 3..(y * 160 + x) * 3 + 3];
    let close =
        |got: &[u8], want: [u8; 3]| got.iter().zip(want).all(|(g, w)| (i32::from(*g) - i32::from(w)).abs() <= 12);
    assert!(close(px(40, 48), [200, 40, 200]), "left {:?}", px(40, 48));
    assert!(close(px(120, 48), [255, 255, 255]), "right {:?}", px(120, 48));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_gif_decodes_with_the_frames_and_delays_written() {
    let dir = scratch("gif");
    let path = dir.join("loop.gif");
    let out = write(&path, VideoSpec { width: 64, height: 40, fps: 30.0 }, 9);
    assert_eq!(out.frames, 9);
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    let mut decoder = options.read_info(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!((decoder.width(), decoder.height()), (64, 40));
    let mut delays = Vec::new();
    let mut first = None;
    while let Some(f) = decoder.read_next_frame().unwrap() {
        delays.push(f.delay);
        first.get_or_insert_with(|| f.buffer.to_vec());
    }
    assert_eq!(delays.len(), 9);
    // 30 fps in whole centiseconds: 3 and 4 alternate, averaging 3.33.
    let total: u32 = delays.iter().map(|&d| u32::from(d)).sum();
    assert!((29..=31).contains(&total), "{delays:?}");
    let px = first.unwrap();
    assert_eq!(&px[(20 * 64 + 60) * 4..(20 * 64 + 60) * 4 + 3], &[255, 255, 255]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_png_sequence_is_a_folder_of_numbered_frames() {
    let dir = scratch("png");
    let out = write(&dir.join("shots.png"), VideoSpec { width: 33, height: 21, fps: 10.0 }, 4);
    assert_eq!(out.path, dir.join("shots"));
    assert_eq!(out.files.len(), 4);
    for (i, f) in out.files.iter().enumerate() {
        assert_eq!(f, &dir.join("shots").join(format!("shots_{i:05}.png")));
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(f).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (33, 21));
        assert_eq!(buf[0], (i * 20) as u8);
    }
    // Exporting again replaces the folder.
    let again = write(&dir.join("shots.png"), VideoSpec { width: 8, height: 8, fps: 10.0 }, 2);
    assert_eq!(std::fs::read_dir(&again.path).unwrap().count(), 2);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_requests_are_refused_clearly_and_leave_nothing_behind() {
    let dir = scratch("bad");
    let spec = VideoSpec { width: 64, height: 64, fps: 30.0 };
    let err = |p: &Path, s: VideoSpec| VideoWriter::create(p, s).err().expect("refused").to_string();
    assert!(err(&dir.join("a.avi"), spec).contains("unknown video extension \"avi\""));
    assert!(err(&dir.join("a"), spec).contains("unknown video extension"));
    assert!(err(&dir.join("a.mp4"), VideoSpec { fps: 0.0, ..spec }).contains("\"fps\""));
    assert!(err(&dir.join("a.gif"), VideoSpec { fps: -3.0, ..spec }).contains("\"fps\""));
    assert!(err(&dir.join("a.mp4"), VideoSpec { width: 0, ..spec }).contains("\"width\""));
    assert!(err(&dir.join("a.mp4"), VideoSpec { width: 63, ..spec }).contains("even"));
    assert_eq!(VideoFormat::Mp4.fit_size(63, 1), (62, 2));
    assert_eq!(VideoFormat::Gif.fit_size(63, 1), (63, 1));
    // Unwritable: a file where a folder should be.
    std::fs::write(dir.join("file"), b"x").unwrap();
    let e = err(&dir.join("file").join("a.mp4"), spec);
    assert!(e.contains("cannot write"), "{e}");
    // A wrong frame size is refused without ending the export.
    let mut w = VideoWriter::create(&dir.join("ok.gif"), spec).unwrap();
    assert!(matches!(w.push(vec![0; 10]), Err(VideoError::FrameSize { .. })));
    w.push(frame(64, 64, 0)).unwrap();
    // Cancelled: no file under the name, no partial file.
    w.cancel();
    let mut w = VideoWriter::create(&dir.join("gone.mp4"), spec).unwrap();
    for i in 0..5 {
        w.push(frame(64, 64, i)).unwrap();
    }
    drop(w);
    // No frames at all: an error, nothing written.
    let empty = VideoWriter::create(&dir.join("empty.mp4"), spec).unwrap().finish().unwrap_err();
    assert!(empty.to_string().contains("no frames"), "{empty}");
    let left: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(left, vec!["file".to_owned()], "left behind: {left:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn try_push_gives_a_frame_back_instead_of_waiting() {
    let dir = scratch("try");
    let spec = VideoSpec { width: 320, height: 240, fps: 30.0 };
    let mut w = VideoWriter::create(&dir.join("t.gif"), spec).unwrap();
    let mut given_back = 0;
    let mut sent = 0;
    while sent < 8 {
        match w.try_push(frame(320, 240, sent)).unwrap() {
            None => sent += 1,
            Some(f) => {
                given_back += 1;
                assert_eq!(f.len(), 320 * 240 * 4);
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
    }
    let out = w.finish().unwrap();
    assert_eq!(out.frames, 8);
    // GIF quantization is slower than making a frame: the queue filled up.
    assert!(given_back > 0);
    std::fs::remove_dir_all(&dir).ok();
}
