//! The site context every flow runs over: the configuration (shared, read once), the
//! configuration file's path, and one catalog connection. Opening a site does nothing
//! else: recovering interrupted ingests is a flow, run by the facade
//! ([`crate::Librarian::open`]) right after.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::Timestamp;

use crate::catalog::Catalog;
use crate::config::{self, Config};
use crate::error::{Error, ObjectKind, Result};
use crate::model::{Event, NewEvent};

/// One open site.
#[derive(Debug)]
pub(crate) struct Site {
    config: Arc<Config>,
    config_path: PathBuf,
    catalog: Catalog,
}

impl Site {
    /// Create `dir/librarian.toml` for a new site named `name` (refusing one that
    /// exists) and open it, creating its catalog.
    pub(crate) fn create(dir: &Path, name: &str) -> Result<Self> {
        let cfg = Config::new(name)?;
        std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
        let dir = std::fs::canonicalize(dir).map_err(|e| Error::io("cannot resolve", dir, e))?;
        let config_path = dir.join(config::DEFAULT_CONFIG);
        let text = cfg.to_toml()?;
        {
            use std::io::Write;
            let mut f =
                std::fs::OpenOptions::new().write(true).create_new(true).open(&config_path).map_err(|e| {
                    match e.kind() {
                        std::io::ErrorKind::AlreadyExists => {
                            Error::AlreadyExists { kind: ObjectKind::Config, name: config_path.display().to_string() }
                        }
                        _ => Error::io("cannot create", &config_path, e),
                    }
                })?;
            f.write_all(text.as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| Error::io("cannot write", &config_path, e))?;
        }
        let config = Arc::new(Config::load(&config_path)?);
        Self::with_config(config, &config_path, true)
    }

    /// Open the site whose configuration file is `config_path`. The catalog must
    /// exist: a configuration whose `database` names a missing file is
    /// [`Error::NotFound`] naming the path.
    pub(crate) fn open(config_path: &Path) -> Result<Self> {
        let config_path = absolute(config_path)?;
        let config = Arc::new(Config::load(&config_path)?);
        Self::with_config(config, &config_path, false)
    }

    /// Open the site with an already loaded configuration (the server opens one
    /// catalog connection per worker and shares the configuration).
    pub(crate) fn with_config(config: Arc<Config>, config_path: &Path, create: bool) -> Result<Self> {
        let config_path = absolute(config_path)?;
        let database = config.database_path(&config_path);
        if !create && !database.exists() {
            return Err(Error::NotFound {
                kind: ObjectKind::Path,
                name: format!(
                    "{} (the catalog named by {}; only `librarian init` creates one)",
                    database.display(),
                    config_path.display()
                ),
            });
        }
        let catalog = Catalog::open(&database)?;
        Ok(Site { config, config_path, catalog })
    }

    /// The configuration.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The shared configuration.
    pub(crate) fn shared_config(&self) -> Arc<Config> {
        Arc::clone(&self.config)
    }

    /// The configuration file (absolute).
    pub(crate) fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The catalog.
    pub(crate) fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Record an event now (or count one more occurrence of the same open event).
    pub(crate) fn raise_event(&self, event: &NewEvent) -> Result<Event> {
        self.catalog.raise_event(event, Timestamp::now())
    }
}

pub(crate) fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| Error::io("cannot resolve", p, e))
}
