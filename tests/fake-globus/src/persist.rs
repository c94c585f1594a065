//! `--state FILE`: the tasks (documents, items, status, counters, events, submission
//! ids) and owner ids as JSON, written atomically (temporary file, then rename) on
//! every status change or event and reloaded at start. Counters that merely advance
//! during a copy are not written each time: a task that was ACTIVE when the fake
//! stopped copies again from the start. Access tokens are never written.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::server::Inner;
use crate::tasks::{Counters, Status, Task};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Saved {
    pub tasks: Vec<Task>,
    pub owners: BTreeMap<String, String>,
}

pub fn save(path: &Path, inner: &Inner) -> io::Result<()> {
    #[derive(Serialize)]
    struct SavedRef<'a> {
        tasks: &'a [Task],
        owners: &'a BTreeMap<String, String>,
    }
    let json = serde_json::to_vec(&SavedRef { tasks: &inner.tasks, owners: &inner.owners })?;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let mut file = fs::File::create(&temporary)?;
    file.write_all(&json)?;
    file.sync_all()?;
    fs::rename(&temporary, path)
}

/// The saved state, or an empty one when the file does not exist yet. Tasks that were
/// ACTIVE start over: their progress counters are zeroed (faults are kept).
pub fn load(path: &Path) -> io::Result<Saved> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Saved::default()),
        Err(e) => return Err(e),
    };
    let mut saved: Saved = serde_json::from_slice(&bytes).map_err(io::Error::other)?;
    for task in &mut saved.tasks {
        if task.status == Status::Active {
            task.counters = Counters { faults: task.counters.faults, ..Counters::default() };
            task.nice_status = Some("Queued".into());
        }
    }
    Ok(saved)
}
