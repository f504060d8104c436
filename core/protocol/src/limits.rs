//! Limits on what a client can make the viewer hold, decode or send back,
//! in one place (docs/protocol.md, "Limits", lists them with what happens at
//! each), and the one helper every error message uses to quote client data.

/// Longest node name, in bytes.
pub const MAX_NAME_BYTES: usize = 1024;

// --- Images and controls (hard-images) ---

/// Most images in one `images` message, hence most image windows per client
/// (one per list index).
pub const MAX_IMAGE_WINDOWS: usize = 64;

/// Largest magnitude of an integer a number or slider control accepts: 2^53,
/// the last integer an f64 (the control's value) holds exactly.
pub const MAX_EXACT_INT: i64 = 1 << 53;

// --- end of images and controls ---

// --- scene and camera (hardening: scene) ---

/// Narrowest vertical field of view a camera accepts, in degrees (`fov_y`).
pub const MIN_FOV_Y_DEG: f64 = 1.0;

/// Widest vertical field of view a camera accepts, in degrees (`fov_y`).
pub const MAX_FOV_Y_DEG: f64 = 170.0;

// --- end scene and camera ---

/// Slowest and fastest frame rate of an exported video (`export_video` `fps`;
/// `periscope_video::MIN_FPS`/`MAX_FPS` hold the same values, checked by a test).
pub const MIN_VIDEO_FPS: f64 = 0.01;
pub const MAX_VIDEO_FPS: f64 = 240.0;

/// Largest magnitude of a camera coordinate or distance a client may set
/// (SET_CAMERA `position`/`target`, a screenshot's `camera.target` and
/// `camera.distance`): beyond it f32 view matrices overflow, and a camera kept
/// for later requests would render every later screenshot as NaN.
pub const MAX_CAMERA_COORD: f32 = 1e15;

/// Longest excerpt of client data quoted in an error or a log line, in characters.
pub const MAX_EXCERPT_CHARS: usize = 80;

// --- server: replies and arrays in parts (core/server, core/protocol/src/parts.rs) ---

/// Arrays one connection may have in progress in parts (`ARRAY_PART`) at once.
pub const MAX_TRANSFERS: usize = 4096;
/// Bytes each array in progress in parts counts against `server.max_message_bytes`
/// besides its data (its bookkeeping), so empty or one-byte arrays are not free.
pub const TRANSFER_OVERHEAD_BYTES: usize = 256;
/// Refused transfer ids one connection remembers (their later parts are
/// dropped quietly); past this, each later part is refused on its own.
pub const MAX_REFUSED_TRANSFERS: usize = 4096;

// --- end server ---

// --- playback (one door: PLAYBACK) ---

/// Fastest playback a `playback` message may set (`fps`, frames per second).
pub const MAX_PLAYBACK_FPS: f64 = 240.0;

/// Slowest playback (a frame every 1,000 s): a rate closer to 0 has a frame
/// interval too long to wait for (1e-300 fps crashed the viewer's timer).
pub const MIN_PLAYBACK_FPS: f64 = 0.001;

// --- end playback ---

/// A short, printable excerpt of client data for an error or a log line: at
/// most [`MAX_EXCERPT_CHARS`] characters, control characters escaped, with the
/// total length noted when it was cut (`"abc…" (100000 bytes)`).
pub fn excerpt(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == MAX_EXCERPT_CHARS {
            return format!("\"{out}…\" ({} bytes)", text.len());
        }
        out.extend(c.escape_debug());
    }
    format!("\"{out}\"")
}

/// Longest error message that carries another library's words about client
/// data (a TOML or serde error quoting the input), in characters.
pub const MAX_ERROR_CHARS: usize = 400;

/// An error message from another library (which may quote client data in
/// full, as TOML errors quote the offending line) cut to
/// [`MAX_ERROR_CHARS`], with the total length noted when it was cut.
pub fn cut_message(text: &str) -> String {
    match text.char_indices().nth(MAX_ERROR_CHARS) {
        Some((at, _)) => format!("{}… ({} bytes in all)", &text[..at], text.len()),
        None => text.to_owned(),
    }
}

/// A list of client items quoted in an error: the first few, then how many more.
pub fn excerpt_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    const SHOWN: usize = 8;
    let mut shown = Vec::new();
    let mut total = 0usize;
    for item in items {
        if shown.len() < SHOWN {
            shown.push(excerpt(item));
        }
        total += 1;
    }
    let more = total.saturating_sub(shown.len());
    if more > 0 { format!("{} and {more} more", shown.join(", ")) } else { shown.join(", ") }
}

// --- Frames (scene and views) ---

/// Frames a node (and so one message) may have at most. The frames of an
/// attribute cost bookkeeping (a reference each) whatever their size, so a
/// small message with zero-size frames and a huge frame count must not make
/// the viewer (or a view of it) allocate for all of them.
pub const MAX_FRAMES: usize = 1 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_short_and_printable() {
        assert_eq!(excerpt("abc"), "\"abc\"");
        assert_eq!(excerpt("a\nb\0"), "\"a\\nb\\0\"");
        let long = "x".repeat(100_000);
        let e = excerpt(&long);
        assert!(e.len() < 120, "{e}");
        assert!(e.ends_with("…\" (100000 bytes)"), "{e}");
    }

    #[test]
    fn long_error_messages_are_cut() {
        assert_eq!(cut_message("short"), "short");
        let long = format!("unknown variant `{}`", "x".repeat(100_000));
        let cut = cut_message(&long);
        assert!(cut.len() < 500 && cut.ends_with(&format!("({} bytes in all)", long.len())), "{cut}");
    }

    #[test]
    fn lists_name_the_first_few_and_count_the_rest() {
        let items: Vec<String> = (0..1024).map(|i| format!("option {i}")).collect();
        let e = excerpt_list(items.iter().map(String::as_str));
        assert!(e.starts_with("\"option 0\", \"option 1\""), "{e}");
        assert!(e.ends_with("and 1016 more"), "{e}");
        assert!(e.len() < 200, "{e}");
        assert_eq!(excerpt_list(["a", "b"]), "\"a\", \"b\"");
    }
}
