//! The external programs extraction may run, and where they are.
//!
//! Speech recognition and OCR run as child processes (Debian's
//! `pocketsphinx_continuous` and `tesseract`), not linked libraries: a crash
//! or hang on a hostile file kills only the child, and the caller's time
//! limit can kill it too.

use std::path::PathBuf;
use std::time::Duration;

/// Paths and settings of the external programs.
#[derive(Debug, Clone, PartialEq)]
pub struct Tools {
    /// The PocketSphinx command-line decoder.
    pub pocketsphinx: PathBuf,
    /// PocketSphinx acoustic model directory (`-hmm`).
    pub pocketsphinx_hmm: PathBuf,
    /// PocketSphinx language model (`-lm`).
    pub pocketsphinx_lm: PathBuf,
    /// PocketSphinx pronunciation dictionary (`-dict`).
    pub pocketsphinx_dict: PathBuf,
    /// The Tesseract OCR program.
    pub tesseract: PathBuf,
    /// Tesseract language(s), for example `eng`.
    pub tesseract_lang: String,
    /// Longest any one run of an external program may take.
    pub timeout: Duration,
}

impl Default for Tools {
    fn default() -> Self {
        let sphinx = PathBuf::from("/usr/share/pocketsphinx/model/en-us");
        Self {
            pocketsphinx: PathBuf::from("pocketsphinx_continuous"),
            pocketsphinx_hmm: sphinx.join("en-us"),
            pocketsphinx_lm: sphinx.join("en-us.lm.bin"),
            pocketsphinx_dict: sphinx.join("cmudict-en-us.dict"),
            tesseract: PathBuf::from("tesseract"),
            tesseract_lang: "eng".to_string(),
            timeout: Duration::from_secs(600),
        }
    }
}
