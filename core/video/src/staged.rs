//! Writing a file (or a folder) beside its final name without ever writing
//! through what is already there: the one way the viewer writes into its
//! export folder (videos, saved scenes).
//!
//! The temporary entry gets a short name no one can predict
//! (`.periscope-tmp-` and 16 random hex digits, so a long final name still
//! fits) and is created exclusively (`O_CREAT | O_EXCL` for a file, `mkdir`
//! for a folder: neither follows a symlink planted at that name). When it is
//! complete it is renamed over the final name: a rename replaces a symlink
//! itself, never the file it points to. The final name is never opened for
//! writing. A staged entry that is dropped before [`Staged::commit`] is removed.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// Prefix of every temporary name (hidden: a leading dot).
pub const TEMP_PREFIX: &str = ".periscope-tmp-";

/// Tries for a fresh temporary name before giving up (a clash is a 2^-64 chance).
const TRIES: usize = 8;

/// A file or folder being written under a temporary name in the final one's folder.
#[derive(Debug)]
pub struct Staged {
    temp: PathBuf,
    target: PathBuf,
    is_dir: bool,
    done: bool,
}

fn temp_name(dir: &Path) -> PathBuf {
    dir.join(format!("{TEMP_PREFIX}{:016x}", rand::random::<u64>()))
}

/// Writes `bytes` as the file `target` the staged way (a fresh temporary
/// created exclusively, then renamed over `target`): never through a symlink
/// at `target`, and never a half-written `target`. The folder must exist.
pub fn write_file(target: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let (staged, mut file) = Staged::file(target)?;
    file.write_all(bytes)?;
    drop(file);
    staged.commit()
}

/// The folder `path` is in (`.` for a bare name).
pub fn parent_dir(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

impl Staged {
    /// Creates a new temporary file beside `target` (the folder must exist).
    pub fn file(target: &Path) -> io::Result<(Self, File)> {
        let dir = parent_dir(target);
        let mut last = None;
        for _ in 0..TRIES {
            let temp = temp_name(dir);
            match OpenOptions::new().write(true).create_new(true).open(&temp) {
                Ok(f) => return Ok((Self { temp, target: target.to_owned(), is_dir: false, done: false }, f)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no temporary name")))
    }

    /// Creates a new, empty temporary folder beside `target`.
    pub fn dir(target: &Path) -> io::Result<Self> {
        let dir = parent_dir(target);
        let mut last = None;
        for _ in 0..TRIES {
            let temp = temp_name(dir);
            match std::fs::create_dir(&temp) {
                Ok(()) => return Ok(Self { temp, target: target.to_owned(), is_dir: true, done: false }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no temporary name")))
    }

    /// Where the content is being written.
    pub fn temp(&self) -> &Path {
        &self.temp
    }

    /// Moves the finished file to its final name, replacing whatever entry
    /// is there (a symlink is replaced, not followed). A folder replaces only
    /// an empty folder; to replace a full one, [`Self::commit_replacing_dir`].
    pub fn commit(mut self) -> io::Result<()> {
        std::fs::rename(&self.temp, &self.target)?;
        self.done = true;
        Ok(())
    }

    /// Moves the finished folder to its final name; an existing folder there
    /// (which the caller has checked may go) is moved aside first and removed
    /// once the new one is in place.
    pub fn commit_replacing_dir(mut self) -> io::Result<()> {
        let old = match std::fs::symlink_metadata(&self.target) {
            Ok(m) if m.is_dir() => {
                let old = temp_name(parent_dir(&self.target));
                std::fs::rename(&self.target, &old)?;
                Some(old)
            }
            _ => None,
        };
        if let Err(e) = std::fs::rename(&self.temp, &self.target) {
            // Put the old folder back.
            if let Some(old) = &old {
                std::fs::rename(old, &self.target).ok();
            }
            return Err(e);
        }
        self.done = true;
        if let Some(old) = old
            && let Err(e) = std::fs::remove_dir_all(&old)
        {
            tracing::warn!(path = %old.display(), "cannot remove the replaced folder: {e}");
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let r = if self.is_dir { std::fs::remove_dir_all(&self.temp) } else { std::fs::remove_file(&self.temp) };
        if let Err(e) = r
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.temp.display(), "cannot remove a temporary file: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tmp() -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("periscope-staged-{}-{:x}", std::process::id(), rand::random::<u32>()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_at_the_final_name_is_replaced_not_written_through() {
        let d = tmp();
        let outside = d.join("outside.txt");
        std::fs::write(&outside, "keep").unwrap();
        let exports = d.join("exports");
        std::fs::create_dir(&exports).unwrap();
        let target = exports.join("scene.psr");
        std::os::unix::fs::symlink(&outside, &target).unwrap();
        let (staged, mut f) = Staged::file(&target).unwrap();
        assert!(staged.temp().file_name().unwrap().to_str().unwrap().starts_with(TEMP_PREFIX));
        assert_eq!(staged.temp().file_name().unwrap().len(), TEMP_PREFIX.len() + 16);
        f.write_all(b"new").unwrap();
        drop(f);
        staged.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
        assert!(!std::fs::symlink_metadata(&target).unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn write_file_replaces_a_symlink_instead_of_writing_through_it() {
        let dir = std::env::temp_dir().join(format!("periscope-staged-write-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let outside = dir.join("outside.txt");
        std::fs::write(&outside, "keep").unwrap();
        let target = dir.join("view.toml");
        std::os::unix::fs::symlink(&outside, &target).unwrap();
        write_file(&target, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert!(!std::fs::symlink_metadata(&target).unwrap().file_type().is_symlink());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_dropped_stage_leaves_nothing_and_folders_replace_folders() {
        let d = tmp();
        let target = d.join("seq");
        let (staged, _f) = Staged::file(&target).unwrap();
        drop(staged);
        let s = Staged::dir(&target).unwrap();
        std::fs::write(s.temp().join("a.png"), "1").unwrap();
        drop(s);
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("old.png"), "0").unwrap();
        let s = Staged::dir(&target).unwrap();
        std::fs::write(s.temp().join("new.png"), "1").unwrap();
        s.commit_replacing_dir().unwrap();
        let names: Vec<_> = std::fs::read_dir(&target).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("new.png")]);
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
        std::fs::remove_dir_all(&d).ok();
    }
}
