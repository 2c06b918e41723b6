//! Segment files and line-level reading of the log.

use crate::error::{EvidenceError, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// File name of segment `i`.
pub fn segment_name(i: u32) -> String {
    format!("segment-{i:08}.jsonl")
}

/// Segment index of a file name.
pub fn parse_segment_name(name: &str) -> Option<u32> {
    name.strip_prefix("segment-")?
        .strip_suffix(".jsonl")?
        .parse()
        .ok()
}

/// All segments of `dir`, ordered.
pub fn list_segments(dir: &Path) -> Result<Vec<(u32, PathBuf)>> {
    let mut out = Vec::new();
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(EvidenceError::io(dir, e)),
    };
    for ent in rd {
        let ent = ent.map_err(|e| EvidenceError::io(dir, e))?;
        if let Some(i) = parse_segment_name(&ent.file_name().to_string_lossy()) {
            out.push((i, ent.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// A segment's bytes split into lines.
pub struct SegmentData {
    pub path: PathBuf,
    pub data: Vec<u8>,
    /// `(start, end)` of each complete line (end excludes the newline).
    pub lines: Vec<(usize, usize)>,
    /// Start of a trailing incomplete line, if any.
    pub partial: Option<usize>,
}

impl SegmentData {
    /// Read and split a segment file.
    pub fn read(path: &Path) -> Result<Self> {
        let data = fs::read(path).map_err(|e| EvidenceError::io(path, e))?;
        Ok(Self::from_bytes(path.to_path_buf(), data))
    }
    /// Split bytes into lines.
    pub fn from_bytes(path: PathBuf, data: Vec<u8>) -> Self {
        let mut lines = Vec::new();
        let mut start = 0;
        for (i, b) in data.iter().enumerate() {
            if *b == b'\n' {
                lines.push((start, i));
                start = i + 1;
            }
        }
        let partial = (start < data.len()).then_some(start);
        SegmentData {
            path,
            data,
            lines,
            partial,
        }
    }
    /// Bytes of line `i`.
    pub fn line(&self, i: usize) -> &[u8] {
        self.lines
            .get(i)
            .and_then(|(s, e)| self.data.get(*s..*e))
            .unwrap_or(&[])
    }
}

/// Total bytes of all segments (for progress).
pub fn total_bytes(segs: &[(u32, PathBuf)]) -> u64 {
    segs.iter()
        .filter_map(|(_, p)| fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

pub(crate) fn read_at(f: &fs::File, buf: &mut [u8], off: u64) -> std::io::Result<usize> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        let mut n = 0;
        while n < buf.len() {
            match f.read_at(&mut buf[n..], off + n as u64)? {
                0 => break,
                k => n += k,
            }
        }
        Ok(n)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Read, Seek, SeekFrom};
        let mut g = f;
        g.seek(SeekFrom::Start(off))?;
        let mut n = 0;
        while n < buf.len() {
            match g.read(&mut buf[n..])? {
                0 => break,
                k => n += k,
            }
        }
        Ok(n)
    }
}

pub(crate) fn write_at(f: &fs::File, buf: &[u8], off: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        f.write_all_at(buf, off)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut g = f;
        g.seek(SeekFrom::Start(off))?;
        g.write_all(buf)
    }
}
