//! Where an XOAUTH2 bearer token comes from.
//!
//! [`CommandToken`] is the only code in this module tree that does IO: it runs
//! a program and reads its standard output. Call it before starting the
//! mechanism, from a blocking context (e.g. `tokio::task::spawn_blocking`),
//! under the caller's own timeout.

use std::process::{Command, Stdio};

use crate::Secret;

/// The most bytes accepted from a token command's standard output.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// A source of bearer tokens for XOAUTH2.
pub trait TokenProvider {
    /// A current token. Put it into [`Credentials::secret`](super::Credentials::secret).
    fn token(&self) -> Result<Secret, TokenError>;
}

/// Why no token could be obtained. Always for the operator to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The configured command is empty.
    #[error("the XOAUTH2 token command is empty; configure a program and its arguments")]
    EmptyCommand,
    /// The program could not be started.
    #[error("cannot run the XOAUTH2 token command `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The program failed.
    #[error("the XOAUTH2 token command `{program}` failed ({status}): {stderr}")]
    Failed {
        /// The program.
        program: String,
        /// Its exit status.
        status: String,
        /// The first line of its standard error, capped.
        stderr: String,
    },
    /// The program printed nothing, or too much.
    #[error(
        "the XOAUTH2 token command `{program}` printed {len} bytes; expected one token of \
         1..={MAX_TOKEN_LEN} bytes on standard output"
    )]
    BadOutput {
        /// The program.
        program: String,
        /// How many bytes it printed (after trimming whitespace).
        len: usize,
    },
}

/// A fixed token, e.g. the entry's `P:` value.
#[derive(Clone, Debug)]
pub struct StaticToken(pub Secret);

impl TokenProvider for StaticToken {
    fn token(&self) -> Result<Secret, TokenError> {
        Ok(self.0.clone())
    }
}

/// Runs `argv[0]` with the remaining arguments (no shell) and takes its
/// standard output, trimmed of surrounding whitespace, as the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandToken {
    /// The program and its arguments.
    pub argv: Vec<String>,
}

impl TokenProvider for CommandToken {
    fn token(&self) -> Result<Secret, TokenError> {
        let (program, args) = self.argv.split_first().ok_or(TokenError::EmptyCommand)?;
        let output = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| TokenError::Spawn { program: program.clone(), source })?;
        let stdout = zeroize::Zeroizing::new(output.stdout);
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let first: String = stderr.lines().next().unwrap_or("").chars().take(200).collect();
            return Err(TokenError::Failed {
                program: program.clone(),
                status: output.status.to_string(),
                stderr: first,
            });
        }
        let token = stdout.trim_ascii();
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::BadOutput { program: program.clone(), len: token.len() });
        }
        Ok(Secret::new(token.to_vec()))
    }
}
