//! Naming an object store in one configuration value: a directory path, or
//! `s3://<bucket>?endpoint=<url>&region=<r>&path_style=<bool>&bucket_per_tenant=<bool>&part_mb=<n>`
//! (every query parameter optional). S3 credentials come from the AWS SDK's
//! default chain: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, a profile,
//! web identity (Kubernetes service accounts) or instance metadata; they
//! never appear in the location, so it can be logged.

use crate::error::{ObjectError, Result};
use crate::{ObjectStore, S3Config};

/// Parses `location` into S3 settings, or `None` for a directory.
pub fn parse_s3_location(location: &str) -> Result<Option<S3Config>> {
    let Some(rest) = location.strip_prefix("s3://") else { return Ok(None) };
    let (bucket, query) = rest.split_once('?').unwrap_or((rest, ""));
    let bucket = bucket.trim_end_matches('/');
    if bucket.is_empty() {
        return Err(ObjectError::Config(format!("'{location}' names no bucket")));
    }
    let mut config = S3Config { bucket: bucket.to_string(), ..S3Config::default() };
    let flag = |name: &str, value: &str| match value {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ObjectError::Config(format!("{name}={value} is not true or false"))),
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "endpoint" => config.endpoint = Some(value.to_string()),
            "region" => config.region = value.to_string(),
            "path_style" => config.path_style = flag(name, value)?,
            "bucket_per_tenant" => config.bucket_per_tenant = flag(name, value)?,
            "create_buckets" => config.create_buckets = flag(name, value)?,
            "part_mb" => {
                let mb: usize = value.parse().map_err(|_| ObjectError::Config(format!("part_mb={value} is not a number")))?;
                config.part_size = mb << 20;
            }
            _ => return Err(ObjectError::Config(format!("unknown S3 location parameter '{name}' (endpoint, region, path_style, bucket_per_tenant, create_buckets, part_mb)"))),
        }
    }
    Ok(Some(config))
}

impl ObjectStore {
    /// Opens the store `location` names (see the module docs).
    pub async fn open(location: &str) -> Result<Self> {
        match parse_s3_location(location)? {
            Some(config) => Self::s3(config).await,
            None => Ok(Self::local(location.strip_prefix("file://").unwrap_or(location))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        assert_eq!(parse_s3_location("./data/objects").ok().flatten(), None);
        let c = parse_s3_location("s3://uploads?endpoint=http://127.0.0.1:9000&region=eu-west-1&path_style=false&bucket_per_tenant=true&part_mb=16").ok().flatten();
        let c = c.expect("an S3 location");
        assert_eq!(
            (c.bucket.as_str(), c.endpoint.as_deref(), c.region.as_str(), c.path_style, c.bucket_per_tenant, c.part_size),
            ("uploads", Some("http://127.0.0.1:9000"), "eu-west-1", false, true, 16 << 20)
        );
        assert!(parse_s3_location("s3://").is_err());
        assert!(parse_s3_location("s3://b?path_style=maybe").is_err());
        assert!(parse_s3_location("s3://b?secret=x").is_err());
    }
}
