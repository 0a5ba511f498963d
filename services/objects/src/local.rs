//! Objects in a local directory: `<root>/tenants/<tenant>/<key>`.

use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;

use crate::error::{ObjectError, Result};

/// A directory of objects.
#[derive(Debug, Clone)]
pub struct LocalObjects {
    root: PathBuf,
}

impl LocalObjects {
    /// Objects under `root`.
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// The file of an object. The tenant id and key are validated by the
    /// callers, so the path stays under the tenant's directory.
    pub fn path(&self, tenant: &str, key: &str) -> PathBuf {
        self.root.join("tenants").join(tenant).join(key)
    }

    pub(crate) async fn get(&self, tenant: &str, key: &str, max_bytes: u64) -> Result<Vec<u8>> {
        let path = self.path(tenant, key);
        let io = |source| ObjectError::Io { key: key.to_string(), source };
        let metadata = match tokio::fs::metadata(&path).await {
            Ok(m) if m.is_file() => m,
            Ok(_) => return Err(ObjectError::NotFound(key.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ObjectError::NotFound(key.to_string())),
            Err(e) => return Err(io(e)),
        };
        if metadata.len() > max_bytes {
            return Err(ObjectError::TooLarge { key: key.to_string(), size: metadata.len(), limit: max_bytes });
        }
        tokio::fs::read(&path).await.map_err(io)
    }

    pub(crate) async fn put(&self, tenant: &str, key: &str, bytes: &[u8]) -> Result<()> {
        let path = self.path(tenant, key);
        let io = |source| ObjectError::Io { key: key.to_string(), source };
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| self.root.clone());
        tokio::fs::create_dir_all(&dir).await.map_err(io)?;
        let temp = dir.join(format!(".{}.part-{}", path.file_name().and_then(|n| n.to_str()).unwrap_or("object"), std::process::id()));
        let mut file = tokio::fs::File::create(&temp).await.map_err(io)?;
        file.write_all(bytes).await.map_err(io)?;
        file.sync_all().await.map_err(io)?;
        drop(file);
        tokio::fs::rename(&temp, &path).await.map_err(io)?;
        tokio::fs::File::open(&dir).await.map_err(io)?.sync_all().await.map_err(io)?;
        Ok(())
    }
}
