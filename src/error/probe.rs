//! Why the test command's interpreter cannot record (`impact run`'s probe).

/// Why the test command's interpreter cannot record.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(
        "IMPACT_RECORDER=sysmon needs sys.monitoring (CPython 3.12 or newer); unset it or set it \
         to ctrace"
    )]
    NoMonitoring,
    #[error("IMPACT_RECORDER={0} is not a recorder; use sysmon or ctrace, or unset it")]
    UnknownRecorder(String),
    #[error(
        "failed to start the Python interpreter `{python}`; pass the test command after `--`, \
         e.g. `impact run -- .venv/bin/python -m pytest`"
    )]
    NotStarted {
        python: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to inspect the Python interpreter `{python}`: {stderr}")]
    NotInspected { python: String, stderr: String },
    #[error(
        "{} not installed for the interpreter {executable} (Python {version}); install with \
         `{executable} -m pip install pytest coverage`, or pass another command after `--`",
        missing.join(" and ")
    )]
    Missing {
        missing: Vec<String>,
        executable: String,
        version: String,
    },
}
