//! Local delivery of one recipient: the user's mailbox as `[local]
//! delivery` says (Maildir, mbox, a program mailer), or an alias
//! `|command` or `/path` target, through [`crate::local`] on the blocking
//! pool.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::LocalDelivery;
use crate::local::{
    self, LocalError, LocalMessage, MboxLocking, ProgramCommand, RunAs, deliver_file, deliver_maildir,
    deliver_mbox, deliver_program,
};
use crate::tables::Tables;

/// How long a program (a prog mailer, an alias `|command`) may run before
/// it is killed and the delivery deferred.
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// A local target.
#[derive(Clone, Debug)]
pub(super) enum Target {
    /// The mailbox of a local user.
    Mailbox(String),
    /// An alias `|command`.
    Program(String),
    /// An alias `/path`.
    File(String),
}

/// One local delivery to do.
pub(super) struct Job {
    pub(super) tables: Arc<Tables>,
    pub(super) queue_id: String,
    pub(super) sender: String,
    /// The queued recipient (`bob@example.org`, `|cmd`, `/path`).
    pub(super) recipient: String,
    /// The original recipient's address (from ORCPT), for the user name
    /// of an alias target.
    pub(super) original: Option<String>,
    pub(super) target: Target,
    pub(super) content: Arc<Vec<u8>>,
    pub(super) arrival: SystemTime,
}

impl Job {
    /// The mailer name for the log line.
    pub(super) fn mailer(&self) -> &'static str {
        match (&self.target, &self.tables.config.local.delivery) {
            (Target::Mailbox(_), LocalDelivery::Prog(_)) | (Target::Program(_), _) => "prog",
            (Target::Mailbox(_), _) => "local",
            (Target::File(_), _) => "*file*",
        }
    }

    /// Delivers; blocks on the disk and on child processes.
    pub(super) fn run(&self) -> Result<(), LocalError> {
        let account = |name: &str| self.tables.local_user(name).map(|user| (user.run_as, user.home.clone()));
        let (user, run_as, home) = match &self.target {
            Target::Mailbox(user) => match account(user) {
                Some((run_as, home)) => (user.clone(), Some(run_as), Some(home)),
                // A mailbox without a system account (a Maildir made by
                // hand counts as a user): it belongs to whoever owns it, or
                // the nearest directory above it.
                None => {
                    let path = local::mailbox_path(&self.tables.config.local.path, user).ok();
                    (user.clone(), path.as_deref().and_then(nearest_owner), None)
                }
            },
            // An alias target runs as an unprivileged user, never as root
            // (sendmail's DefaultUser).
            _ => {
                let user = self
                    .original
                    .as_deref()
                    .and_then(|o| o.rsplit_once('@').map(|(local, _)| local).or(Some(o)))
                    .unwrap_or("mail")
                    .to_owned();
                let default = account("mailnull").or_else(|| account("nobody"));
                (user, default.as_ref().map(|e| e.0), None)
            }
        };
        let message = LocalMessage {
            queue_id: &self.queue_id,
            sender: &self.sender,
            recipient: &self.recipient,
            user: &user,
            content: &self.content,
            arrival: self.arrival,
            run_as,
            home: home.as_deref(),
        };
        let config = &self.tables.config;
        match &self.target {
            Target::Program(command) => {
                deliver_program(&ProgramCommand::from_alias(command), &message, PROGRAM_TIMEOUT)
            }
            Target::File(path) => deliver_file(Path::new(path), &message, MboxLocking::default()),
            Target::Mailbox(user) => match &config.local.delivery {
                LocalDelivery::Maildir => {
                    deliver_maildir(&local::mailbox_path(&config.local.path, user)?, &message).map(|_| ())
                }
                LocalDelivery::Mbox => deliver_mbox(
                    &local::mailbox_path(&config.local.path, user)?,
                    &message,
                    MboxLocking::default(),
                ),
                LocalDelivery::Prog(name) => {
                    let mailer = config.mailers.get(name).and_then(|m| m.program.clone().map(|p| (p, m)));
                    match mailer {
                        Some((program, mailer)) => deliver_program(
                            &ProgramCommand::new(program, mailer.args.iter().cloned()),
                            &message,
                            PROGRAM_TIMEOUT,
                        ),
                        // Tables::load refuses this configuration; a reload
                        // race is the only way here.
                        None => Err(LocalError::temporary(
                            "4.3.5",
                            format!("local.delivery names `{name}`, which is not a program mailer"),
                        )),
                    }
                }
            },
        }
    }
}

/// The reply text a local failure is recorded and reported with.
pub(super) fn reply_of(error: &LocalError) -> String {
    let code = if error.permanent { 550 } else { 451 };
    format!("{code} {} {}", error.status, crate::log::one_line(&error.text))
}

/// The owner of `path`, or of its nearest existing parent directory.
fn nearest_owner(path: &Path) -> Option<RunAs> {
    use std::os::unix::fs::MetadataExt as _;
    path.ancestors().find_map(|p| std::fs::metadata(p).ok()).map(|m| RunAs { uid: m.uid(), gid: m.gid() })
}

/// A queue timestamp as a `SystemTime`.
pub(super) fn system_time(stamp: smarthost_queue::Timestamp) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(stamp.0)
}
