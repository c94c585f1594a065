//! Fault points for crash tests.
//!
//! `LIBRARIAN_FAULT=NAME` in a process's environment makes it kill itself with
//! `SIGKILL` when it reaches the point `NAME`: exactly what a crash or a `kill -9` at
//! that instant does, with no timing luck. Tests use it to prove that every step a
//! process can die at converges afterwards. Without the variable a point costs one
//! load of a cached value.
//!
//! Points:
//! * `send.after-stage-answer`: a sender killed after the receiver answered `stage`
//!   and before it recorded the answer;
//! * `ingest.after-intent`: an ingest (upload, received clone, drive import) killed
//!   after its intent row is committed, before the payload (or the `--move` source) is
//!   renamed into the data area;
//! * `ingest.after-rename`: after that rename, before the catalog commit (the next
//!   open moves the data back out and drops the intent);
//! * `ingest.after-commit`: after the catalog commit, before the staging directory is
//!   removed (`cleanup` removes the empty directory later);
//! * `receive.after-ingest`: receiving a clone, killed after the staged data was
//!   committed and before the transfer was completed and its `complete` call queued
//!   (the next `receive-clones` finds the file catalogued and completes it);
//! * `import.after-ingest`: importing a drive, killed after a file was committed and
//!   before its transfer and `complete` call were recorded (the next import finds it
//!   already present and records them);
//! * `local-clone.after-copy`: filling a drive, killed with a copied payload in the
//!   drive's staging area, before it is checked and committed;
//! * `globus.before-submit`: sending with Globus, killed after a task's submission id
//!   was saved in the batch state and before the task was posted;
//! * `globus.after-submit`: after Globus accepted the task, before its task id was
//!   saved (the next poll posts the same document again and Globus answers
//!   `Duplicate`: still one task);
//! * `globus.task-active`: polling a Globus task that is still ACTIVE;
//! * `deletion.after-commit`: rolling deletion or `drop`, killed after a copy was
//!   marked `deleting` and before its bytes were removed (the next run removes them);
//! * `repair.after-quarantine`: a repair killed after the bad bytes were moved aside
//!   and before the good ones were put in place (the copy stays damaged; the next
//!   repair puts them in place; `cleanup-staging` removes the quarantine).

use std::sync::OnceLock;

/// Kill this process with SIGKILL if `LIBRARIAN_FAULT` names `name`.
pub(crate) fn point(name: &str) {
    static WANTED: OnceLock<Option<String>> = OnceLock::new();
    if WANTED.get_or_init(|| std::env::var("LIBRARIAN_FAULT").ok()).as_deref() == Some(name) {
        log::error!("fault point {name} reached: killing this process (LIBRARIAN_FAULT)");
        // SAFETY: plain syscalls; SIGKILL of ourselves does not return.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
