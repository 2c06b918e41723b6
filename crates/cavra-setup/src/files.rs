//! The file level shared by the hook and MCP edits: reading (a missing file is `None`),
//! parsing JSON (an object at the top) and TOML (formatting kept), backups, atomic writes.

use crate::error::{IoAction, SetupError};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The file's text; `None` when there is no file.
pub fn read_opt(path: &Path) -> Result<Option<String>, SetupError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SetupError::io(IoAction::Read, path)(e)),
    }
}

/// Parses a JSON settings file; the root must be an object (an empty file is an empty one).
pub fn parse_json(path: &Path, text: &str) -> Result<Map<String, Value>, SetupError> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    let v: Value = serde_json::from_str(text).map_err(|e| SetupError::Json {
        path: path.into(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(SetupError::NotAnObject { path: path.into() }),
    }
}

/// Parses a TOML file, keeping its formatting.
pub fn parse_toml(path: &Path, text: &str) -> Result<toml_edit::DocumentMut, SetupError> {
    text.parse::<toml_edit::DocumentMut>().map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                let before = text.get(..s.start.min(text.len())).unwrap_or(text);
                let line = before.matches('\n').count().saturating_add(1);
                let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count());
                format!(" at line {line}, column {}", col.saturating_add(1))
            })
            .unwrap_or_default();
        SetupError::Toml {
            path: path.into(),
            at,
            message: e.message().to_string(),
        }
    })
}

/// Pretty JSON with a final newline.
pub fn json_text(path: &Path, m: &Map<String, Value>) -> Result<String, SetupError> {
    let mut s = serde_json::to_string_pretty(m).map_err(|e| SetupError::Encode {
        path: path.into(),
        message: e.to_string(),
    })?;
    s.push('\n');
    Ok(s)
}

fn timestamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// Copies `path` to `<path>.cavra-backup-<timestamp>` (a counter is appended if taken).
pub fn backup(path: &Path) -> Result<PathBuf, SetupError> {
    let base = format!("{}.cavra-backup-{}", path.display(), timestamp());
    let mut p = PathBuf::from(&base);
    let mut n = 1u32;
    while p.exists() {
        p = PathBuf::from(format!("{base}-{n}"));
        n = n.saturating_add(1);
    }
    std::fs::copy(path, &p).map_err(|err| SetupError::Backup {
        from: path.into(),
        to: p.clone(),
        err,
    })?;
    Ok(p)
}

/// Writes `text` to a temporary file beside `path` and renames it over `path`.
pub fn write_atomic(path: &Path, text: &str) -> Result<(), SetupError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(SetupError::io(IoAction::CreateDir, dir))?;
    }
    let tmp = path.with_extension(format!(
        "{}.cavra-tmp",
        path.extension()
            .map(|e| e.to_string_lossy().to_string())
            .unwrap_or_default()
    ));
    std::fs::write(&tmp, text).map_err(SetupError::io(IoAction::Write, &tmp))?;
    std::fs::rename(&tmp, path).map_err(SetupError::io(IoAction::Replace, path))
}

/// What an edit leaves: `text`, or no file at all when nothing but CAVRA's was in it. The
/// previous file is kept as a backup first when `make_backup`.
pub(crate) fn replace(
    path: &Path,
    text: &str,
    delete: bool,
    make_backup: bool,
) -> Result<Option<PathBuf>, SetupError> {
    let b = if make_backup {
        Some(backup(path)?)
    } else {
        None
    };
    if delete {
        std::fs::remove_file(path).map_err(SetupError::io(IoAction::Remove, path))?;
    } else {
        write_atomic(path, text)?;
    }
    Ok(b)
}

/// Writes `text` to `path` unless the file exists; whether it wrote.
pub fn write_if_absent(path: &Path, text: &str) -> Result<bool, SetupError> {
    if path.exists() {
        return Ok(false);
    }
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(SetupError::io(IoAction::Create, d))?;
    }
    std::fs::write(path, text).map_err(SetupError::io(IoAction::Write, path))?;
    Ok(true)
}

/// A file with an execute bit (any file off Unix).
pub fn is_executable(p: &Path) -> bool {
    let Ok(m) = std::fs::metadata(p) else {
        return false;
    };
    if !m.is_file() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        m.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        true
    }
}

/// Whether a file can be created in `dir` (or in its nearest existing ancestor, when it does
/// not exist yet); the problem as text otherwise.
pub fn dir_writable(dir: &Path) -> Result<(), String> {
    let mut d = dir.to_path_buf();
    while !d.exists() {
        match d.parent() {
            Some(p) if !p.as_os_str().is_empty() => d = p.to_path_buf(),
            _ => break,
        }
    }
    let probe = d.join(format!(".cavra-doctor-{}", std::process::id()));
    std::fs::write(&probe, b"x").map_err(|e| format!("`{}` is not writable: {e}", d.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn malformed_files_name_the_position() {
        let e = parse_json(Path::new("/p/s.json"), "{\n  \"a\": 1,\n}").unwrap_err();
        let m = e.to_string();
        assert!(m.contains("/p/s.json") && m.contains("line 3"), "{m}");
        assert!(
            m.ends_with("; fix or move the file, CAVRA changed nothing"),
            "{m}"
        );
        let e = parse_toml(Path::new("/p/c.toml"), "a = 1\nb = \n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = parse_json(Path::new("/p/s.json"), "[1]").unwrap_err();
        assert!(matches!(e, SetupError::NotAnObject { .. }), "{e}");
        assert!(parse_json(Path::new("/p/s.json"), " \n")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn io_errors_say_what_and_where() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("missing").join("s.json");
        assert!(read_opt(&p).unwrap().is_none());
        let e = backup(&p).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("cannot back up `{}` to `", p.display())),
            "{e}"
        );
        std::fs::write(dir.path().join("file"), "x").unwrap();
        let e = write_atomic(&dir.path().join("file").join("s.json"), "{}").unwrap_err();
        assert!(
            e.to_string().starts_with(&format!(
                "cannot create directory `{}`: ",
                dir.path().join("file").display()
            )),
            "{e}"
        );
    }

    #[test]
    fn backups_do_not_overwrite_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        std::fs::write(&p, "one").unwrap();
        let a = backup(&p).unwrap();
        let b = backup(&p).unwrap();
        assert_ne!(a, b);
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "one");
        write_atomic(&p, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
        assert!(!write_if_absent(&p, "three").unwrap());
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "one");
    }
}
