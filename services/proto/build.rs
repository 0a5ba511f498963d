//! Generates the Rust code and the reflection descriptor set from `proto/`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read at run time, not baked in with env!(): the compiled build script
    // is shared between clones at different paths through the build cache.
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = ["rem", "database", "jobs", "upload", "sync"]
        .map(|name| root.join(format!("percolate/v1/{name}.proto")));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("percolate_descriptor.bin"))
        .compile_protos(&files, &[root.clone()])?;
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    Ok(())
}
