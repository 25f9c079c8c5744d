//! Backup and restore of a role's databases, whatever the engine.
//!
//! A backup is one file: a header line, a manifest (JSON, one line) and the copy of each
//! database (a "part", in its engine's own format) one after the other. The manifest says
//! what the file holds (format version, product version, the role's identity, when) and,
//! per part, its database, schema version, length and SHA-256, so that a restore checks
//! integrity, schema and origin before anything is replaced.
//!
//! An engine takes part through [`Maintained`]: a consistent copy taken while the role
//! writes, a check of a copy, an atomic replacement, pending migrations. This module only
//! frames, hashes and decides; the SQLite engine is [`crate::sqlite::backup`].

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::migrate::{DatabaseStatus, Migration, Schema, SchemaStatus, UpdateReport};

/// The first line of every backup file.
pub const MAGIC: &[u8] = b"SIPASS-BRIDGE-BACKUP\n";
/// The layout this release writes and reads.
pub const FORMAT: u32 = 1;
/// A manifest is a few hundred bytes; anything much longer is not one.
const MAX_MANIFEST: u64 = 64 * 1024;

/// What a backup file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The file's layout ([`FORMAT`]).
    pub format: u32,
    /// The release that wrote it.
    pub product_version: String,
    /// The engine the parts are copies of ("sqlite").
    pub engine: String,
    /// The identity of the role whose databases these are.
    pub origin: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub parts: Vec<Part>,
}

/// One database's copy in a backup file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// E.g. "Directory database".
    pub database: String,
    /// Its file in a data folder, e.g. "directory.db": how a restore matches it.
    pub file: String,
    pub schema_version: i64,
    pub bytes: u64,
    /// Lowercase hex.
    pub sha256: String,
}

/// How far a copy has gone, in the engine's units (SQLite: pages).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

/// A database as backup, restore and update handle it, in one engine. Implementations
/// work beside a running role: copies never block its writes for long, and replacing or
/// updating is for a role that is deactivated (or stopped).
pub trait Maintained: Send + Sync {
    /// The database as the migration runner knows it.
    fn schema(&self) -> &'static Schema;
    /// "sqlite", recorded in a backup so that another engine's is refused.
    fn engine(&self) -> &'static str;
    /// Where it is, for messages.
    fn location(&self) -> PathBuf;
    /// Writes a consistent copy to `dest` (a new file), calling `progress` as it goes.
    /// Returns the copy's schema version.
    fn snapshot_to(
        &self,
        dest: &Path,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<i64, StoreError>;
    /// Checks a copy made by [`Maintained::snapshot_to`]: sound (the engine's integrity
    /// check) and on a schema this release knows. Changes nothing.
    fn check_copy(&self, copy: &Path) -> Result<SchemaStatus, StoreError>;
    /// The role identity a copy records, if this database keeps it.
    fn origin_of_copy(&self, copy: &Path) -> Result<Option<String>, StoreError>;
    /// The role identity the database records now, if it keeps one and exists.
    fn origin(&self) -> Result<Option<String>, StoreError>;
    /// Replaces the whole database with a checked copy, atomically: on any failure the
    /// database is as it was.
    fn replace_from(&self, copy: &Path) -> Result<(), StoreError>;
    /// Applies pending migrations, one transaction per step.
    fn update(&self, on_step: &mut dyn FnMut(&Migration)) -> Result<UpdateReport, StoreError>;
    /// Its schema version, size and main counts.
    fn status(&self) -> Result<DatabaseStatus, StoreError>;
}

/// Why a backup could not be written or a backup file is refused. Each message names the
/// file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("cannot {action} {path}: {cause}")]
    Io {
        action: &'static str,
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{0} is not a SiPass Bridge backup (it does not start with the backup header)")]
    NotABackup(PathBuf),
    #[error("{path} is damaged: its manifest is unreadable ({detail}); use another backup")]
    BadManifest { path: PathBuf, detail: String },
    #[error(
        "{path} is a backup of format {found}, newer than this release's {FORMAT} (written by release {product}); restore it with that release or a newer one"
    )]
    NewerFormat {
        path: PathBuf,
        found: u32,
        product: String,
    },
    #[error(
        "{path} holds copies of the {found} engine but this role runs on {expected}; restore it on a role of that engine"
    )]
    OtherEngine {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error(
        "{path} is truncated or was extended: its manifest announces {expected} bytes but the file holds {found}; use another backup"
    )]
    Truncated {
        path: PathBuf,
        expected: u64,
        found: u64,
    },
    #[error("{path} holds no copy of the {database}; use a complete backup")]
    MissingPart { path: PathBuf, database: String },
    #[error(
        "{path} holds a part '{file}' this release does not know; use a backup of this product"
    )]
    UnknownPart { path: PathBuf, file: String },
    #[error(
        "{path} is damaged: the copy of the {database} does not match its checksum (SHA-256 {found}, the manifest says {expected}); use another backup"
    )]
    Checksum {
        path: PathBuf,
        database: String,
        found: String,
        expected: String,
    },
    #[error(
        "{path} is damaged: the copy of the {database} fails the integrity check ({detail}); use another backup"
    )]
    Damaged {
        path: PathBuf,
        database: String,
        detail: String,
    },
    #[error(
        "{path} holds the {database} at schema version {found}, newer than this release's {expected} (the backup was written by release {product}); install that release or a newer one to restore it"
    )]
    NewerSchema {
        path: PathBuf,
        database: String,
        found: i64,
        expected: i64,
        product: String,
    },
    #[error(
        "{path} is a backup of another role (identity {backup}) and this role is {current}; restoring it makes this role take that identity. If that role is retired (moving a role to a new server), run again with --accept-foreign"
    )]
    Foreign {
        path: PathBuf,
        backup: String,
        current: String,
    },
    #[error("cannot replace the {database} {path}: {cause}; it is as it was before{done}")]
    Replace {
        database: String,
        path: PathBuf,
        cause: Box<StoreError>,
        /// What was replaced already, said as a sentence ("" when nothing was).
        done: String,
    },
    #[error(
        "cannot update the {database} {path}: {cause}; the step in progress was rolled back, run `sipass-bridge db update` again once the cause is fixed"
    )]
    Update {
        database: String,
        path: PathBuf,
        cause: Box<StoreError>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.to_owned();
    move |cause| BackupError::Io {
        action,
        path,
        cause,
    }
}

/// Files that are removed when dropped unless kept: what a failed backup or restore leaves
/// behind is never a half file under a name someone would use.
struct Scratch(Vec<PathBuf>);

impl Scratch {
    fn add(&mut self, path: PathBuf) -> PathBuf {
        let _ = std::fs::remove_file(&path);
        self.0.push(path.clone());
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// `name` of `file` with a prefix and suffix, in the same folder (same file system, so
/// that a rename is atomic).
fn beside(file: &Path, middle: &str) -> Result<PathBuf, BackupError> {
    let name = file
        .file_name()
        .ok_or_else(|| BackupError::Io {
            action: "write",
            path: file.to_owned(),
            cause: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
        })?
        .to_string_lossy();
    Ok(folder_of(file).join(format!(".{name}{middle}.partial")))
}

fn folder_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// SHA-256 and length of a file.
fn hash_file(path: &Path) -> Result<(String, u64), BackupError> {
    let mut file = File::open(path).map_err(io("read", path))?;
    hash_reader(&mut file, u64::MAX, None).map_err(io("read", path))
}

/// SHA-256 of up to `limit` bytes of `reader`, copied to `copy` when given.
fn hash_reader(
    reader: &mut dyn Read,
    limit: u64,
    mut copy: Option<&mut dyn Write>,
) -> std::io::Result<(String, u64)> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    let mut reader = reader.take(limit);
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
        if let Some(out) = copy.as_mut() {
            out.write_all(&buf[..n])?;
        }
        total += n as u64;
    }
    let hex = ctx
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((hex, total))
}

/// Makes a rename in `folder` durable.
fn sync_folder(folder: &Path) {
    #[cfg(unix)]
    if let Ok(dir) = File::open(folder) {
        let _ = dir.sync_all();
    }
    #[cfg(not(unix))]
    let _ = folder;
}

/// Writes a backup of `databases` to `file`: each copied while the role may write, hashed,
/// framed with the manifest into a temporary file beside `file`, flushed to disk and renamed
/// over it. A failure or a kill at any point leaves `file` as it was (an earlier backup
/// stays intact) and removes or leaves only `.<name>...partial` files beside it, which the
/// next backup to that name replaces.
pub fn write(
    file: &Path,
    databases: &[&dyn Maintained],
    origin: &str,
    product_version: &str,
    progress: &mut dyn FnMut(&str, Progress),
) -> Result<Manifest, BackupError> {
    let folder = folder_of(file);
    if !folder.is_dir() {
        return Err(BackupError::Io {
            action: "write the backup into",
            path: folder,
            cause: std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder"),
        });
    }
    let mut scratch = Scratch(Vec::new());
    // The frame's file first: a folder that cannot be written to (read-only, no space) is
    // reported with its cause before any copy is made.
    let partial = scratch.add(beside(file, "")?);
    File::create(&partial).map_err(io("create", &partial))?;
    let mut parts = Vec::new();
    let mut copies = Vec::new();
    let mut engine = "";
    for db in databases {
        let schema = db.schema();
        engine = db.engine();
        let copy = scratch.add(beside(file, &format!(".{}", schema.file))?);
        let version = db.snapshot_to(&copy, &mut |p| progress(schema.database, p))?;
        let (sha256, bytes) = hash_file(&copy)?;
        parts.push(Part {
            database: schema.database.to_owned(),
            file: schema.file.to_owned(),
            schema_version: version,
            bytes,
            sha256,
        });
        copies.push(copy);
    }
    let manifest = Manifest {
        format: FORMAT,
        product_version: product_version.to_owned(),
        engine: engine.to_owned(),
        origin: origin.to_owned(),
        created_at: model::time::rfc3339_millis(runtime::now_millis()),
        parts,
    };
    frame(&partial, &manifest, &copies)?;
    std::fs::rename(&partial, file).map_err(io("rename the new backup to", file))?;
    sync_folder(&folder);
    Ok(manifest)
}

/// Writes the header, the manifest and the copies to `path`, flushed to disk.
fn frame(path: &Path, manifest: &Manifest, copies: &[PathBuf]) -> Result<(), BackupError> {
    let mut out = File::create(path).map_err(io("write", path))?;
    let mut head = MAGIC.to_vec();
    head.extend(serde_json::to_vec(manifest).expect("a manifest serializes"));
    head.push(b'\n');
    out.write_all(&head).map_err(io("write", path))?;
    for copy in copies {
        let mut input = File::open(copy).map_err(io("read", copy))?;
        std::io::copy(&mut input, &mut out).map_err(io("write", path))?;
    }
    out.sync_all().map_err(io("flush to disk", path))
}

/// A backup file whose every part was checked, ready to restore: the copies extracted beside
/// the databases, removed when this is dropped.
pub struct Checked {
    pub manifest: Manifest,
    /// Per database (in the order given to [`check`]): its extracted copy and where its
    /// schema stands.
    pub copies: Vec<(PathBuf, SchemaStatus)>,
    _scratch: Scratch,
}

impl Checked {
    /// The databases this backup holds at an older schema than this release's: restored,
    /// then updated.
    pub fn older(&self) -> Vec<String> {
        self.manifest
            .parts
            .iter()
            .zip(&self.copies)
            .filter(|(_, (_, s))| s.found < s.expected)
            .map(|(p, (_, s))| format!("{} (version {} -> {})", p.database, s.found, s.expected))
            .collect()
    }
}

/// Reads and checks a backup file before anything is replaced: header, manifest, length,
/// each part's checksum, then each copy's integrity and schema, then its origin against
/// `current` (the identity of the role restoring it, if it has one), refused when it differs
/// unless `accept_foreign`. The copies are extracted into `scratch_folder` (the data
/// folder: same file system as the databases).
pub fn check(
    file: &Path,
    databases: &[&dyn Maintained],
    current: Option<&str>,
    accept_foreign: bool,
    scratch_folder: &Path,
) -> Result<Checked, BackupError> {
    let input = File::open(file).map_err(io("open", file))?;
    let length = input.metadata().map_err(io("read", file))?.len();
    let mut reader = BufReader::new(input);
    let (manifest, head) = read_manifest(file, &mut reader)?;
    let expected_len = head + manifest.parts.iter().map(|p| p.bytes).sum::<u64>();
    if expected_len != length {
        return Err(BackupError::Truncated {
            path: file.to_owned(),
            expected: expected_len,
            found: length,
        });
    }
    let engine = databases.first().map_or("", |d| d.engine());
    if manifest.engine != engine {
        return Err(BackupError::OtherEngine {
            path: file.to_owned(),
            found: manifest.engine.clone(),
            expected: engine.to_owned(),
        });
    }
    if let Some(part) = manifest
        .parts
        .iter()
        .find(|p| !databases.iter().any(|d| d.schema().file == p.file))
    {
        return Err(BackupError::UnknownPart {
            path: file.to_owned(),
            file: part.file.clone(),
        });
    }
    let mut scratch = Scratch(Vec::new());
    let mut extracted = Vec::new();
    for part in &manifest.parts {
        let copy = scratch.add(scratch_folder.join(format!(".restore.{}.partial", part.file)));
        let mut out = File::create(&copy).map_err(io("create", &copy))?;
        let (sha256, bytes) = hash_reader(&mut reader, part.bytes, Some(&mut out))
            .map_err(io("extract the backup into", &copy))?;
        out.sync_all().map_err(io("flush to disk", &copy))?;
        if bytes != part.bytes || sha256 != part.sha256 {
            return Err(BackupError::Checksum {
                path: file.to_owned(),
                database: part.database.clone(),
                found: sha256,
                expected: part.sha256.clone(),
            });
        }
        extracted.push((part.file.clone(), copy));
    }
    let mut copies = Vec::new();
    let mut origin = None;
    for db in databases {
        let schema = db.schema();
        let (_, copy) = extracted
            .iter()
            .find(|(f, _)| f == schema.file)
            .ok_or_else(|| BackupError::MissingPart {
                path: file.to_owned(),
                database: schema.database.to_owned(),
            })?;
        let status = db
            .check_copy(copy)
            .map_err(|e| refused_copy(file, &manifest, schema, e))?;
        if let Some(id) = db.origin_of_copy(copy)? {
            origin = Some(shown(&id));
        }
        copies.push((copy.clone(), status));
    }
    let origin = origin.unwrap_or_else(|| manifest.origin.clone());
    if let Some(current) = current
        && current != origin
        && !accept_foreign
    {
        return Err(BackupError::Foreign {
            path: file.to_owned(),
            backup: origin,
            current: current.to_owned(),
        });
    }
    Ok(Checked {
        manifest,
        copies,
        _scratch: scratch,
    })
}

/// Why a copy in a backup is refused, in the backup's terms.
fn refused_copy(file: &Path, manifest: &Manifest, schema: &Schema, e: StoreError) -> BackupError {
    match e {
        StoreError::NewerSchema {
            found, expected, ..
        } => BackupError::NewerSchema {
            path: file.to_owned(),
            database: schema.database.to_owned(),
            found,
            expected,
            product: manifest.product_version.clone(),
        },
        StoreError::Damaged { detail, .. } => BackupError::Damaged {
            path: file.to_owned(),
            database: schema.database.to_owned(),
            detail,
        },
        StoreError::Sql(ref sql) if crate::is_corruption(sql) => BackupError::Damaged {
            path: file.to_owned(),
            database: schema.database.to_owned(),
            detail: e.to_string(),
        },
        other => BackupError::Store(other),
    }
}

/// Reads the header and the manifest; returns the manifest and the bytes they take.
fn read_manifest(
    file: &Path,
    reader: &mut BufReader<File>,
) -> Result<(Manifest, u64), BackupError> {
    let mut magic = vec![0u8; MAGIC.len()];
    match reader.read_exact(&mut magic) {
        Ok(()) if magic == MAGIC => {}
        Ok(()) => return Err(BackupError::NotABackup(file.to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(BackupError::NotABackup(file.to_owned()));
        }
        Err(e) => return Err(io("read", file)(e)),
    }
    let mut line = Vec::new();
    reader
        .by_ref()
        .take(MAX_MANIFEST)
        .read_until(b'\n', &mut line)
        .map_err(io("read", file))?;
    let bad = |detail: String| BackupError::BadManifest {
        path: file.to_owned(),
        detail,
    };
    if line.last() != Some(&b'\n') {
        return Err(bad("it does not end where a manifest ends".into()));
    }
    let head = (MAGIC.len() + line.len()) as u64;
    // The format first, so that a newer layout is named as such rather than as damage.
    let value: serde_json::Value = serde_json::from_slice(&line).map_err(|e| bad(e.to_string()))?;
    let format = value.get("format").and_then(|f| f.as_u64()).unwrap_or(0);
    if format > u64::from(FORMAT) {
        return Err(BackupError::NewerFormat {
            path: file.to_owned(),
            found: u32::try_from(format).unwrap_or(u32::MAX),
            product: shown(
                value
                    .get("product_version")
                    .and_then(|v| v.as_str())
                    .unwrap_or("?"),
            ),
        });
    }
    let manifest: Manifest = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
    if manifest.format != FORMAT || manifest.parts.len() > 16 {
        return Err(bad(format!(
            "format {} with {} parts",
            manifest.format,
            manifest.parts.len()
        )));
    }
    // Its text reaches messages and screens: short and printable, or refused.
    let texts = [
        &manifest.product_version,
        &manifest.engine,
        &manifest.origin,
        &manifest.created_at,
    ]
    .into_iter()
    .chain(
        manifest
            .parts
            .iter()
            .flat_map(|p| [&p.database, &p.file, &p.sha256]),
    );
    for text in texts {
        if text.len() > 128 || text.chars().any(char::is_control) {
            return Err(bad(format!(
                "a value is not short printable text: {}",
                shown(text)
            )));
        }
    }
    Ok((manifest, head))
}

/// Text from a file as a message may show it: control characters escaped, at most 64
/// characters.
fn shown(text: &str) -> String {
    let escaped: String = text
        .chars()
        .take(64)
        .flat_map(char::escape_default)
        .collect();
    if text.chars().count() > 64 {
        format!("{escaped}...")
    } else {
        escaped
    }
}

/// Reads only the manifest of a backup file (to show what it holds).
pub fn read_manifest_of(file: &Path) -> Result<Manifest, BackupError> {
    let input = File::open(file).map_err(io("open", file))?;
    read_manifest(file, &mut BufReader::new(input)).map(|(m, _)| m)
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreReport {
    pub manifest: Manifest,
    /// The databases whose copies were older, then updated.
    pub updates: Vec<UpdateReport>,
}

/// Replaces each database with its checked copy, then applies the migrations a copy from an
/// older release needs. The role must be deactivated or stopped.
pub fn restore(
    checked: Checked,
    databases: &[&dyn Maintained],
    on_step: &mut dyn FnMut(&str, &Migration),
) -> Result<RestoreReport, BackupError> {
    let mut replaced: Vec<&str> = Vec::new();
    for (db, (copy, _)) in databases.iter().zip(&checked.copies) {
        db.replace_from(copy).map_err(|cause| BackupError::Replace {
            database: db.schema().database.to_owned(),
            path: db.location(),
            cause: Box::new(cause),
            done: match replaced.as_slice() {
                [] => String::new(),
                done => format!(
                    "; the {} was restored already: run the restore again once the cause is fixed",
                    done.join(" and the ")
                ),
            },
        })?;
        replaced.push(db.schema().database);
    }
    let mut updates = Vec::new();
    for (db, (_, status)) in databases.iter().zip(&checked.copies) {
        if status.found < status.expected {
            updates.push(update(*db, on_step)?);
        }
    }
    Ok(RestoreReport {
        manifest: checked.manifest.clone(),
        updates,
    })
}

/// Applies a database's pending migrations; a failure names the database and its file.
pub fn update(
    db: &dyn Maintained,
    on_step: &mut dyn FnMut(&str, &Migration),
) -> Result<UpdateReport, BackupError> {
    let name = db.schema().database;
    db.update(&mut |m| on_step(name, m))
        .map_err(|cause| BackupError::Update {
            database: name.to_owned(),
            path: db.location(),
            cause: Box::new(cause),
        })
}
