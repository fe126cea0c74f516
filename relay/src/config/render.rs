//! `Config::to_toml`: the effective configuration, every key written out.

use std::fmt::Write;
use std::path::Path;

use super::values::format_duration;
use super::{Config, MailerConfig};

pub(crate) fn render(config: &Config) -> String {
    let mut out = String::new();
    let _ = write_config(&mut out, config);
    out
}

fn write_config(out: &mut String, c: &Config) -> std::fmt::Result {
    writeln!(
        out,
        "# The effective configuration of {}: defaults filled in, paths absolute.",
        c.file.display()
    )?;
    match &c.hostname {
        Some(name) => writeln!(out, "hostname = {}", quote(name))?,
        None => writeln!(out, "# hostname: not set; the system's host name is used")?,
    }
    writeln!(out, "local_host_names = {}", list(&c.local_host_names))?;
    optional_path(out, "local_host_names_file", c.local_host_names_file.as_deref())?;
    writeln!(out, "relay_domains = {}", list(&c.relay_domains))?;
    writeln!(out, "virtuser_domains = {}", list(&c.virtuser_domains))?;
    optional_path(out, "virtuser_domain_file", c.virtuser_domain_file.as_deref())?;

    writeln!(out, "\n[spool]\ndir = {}\nsync = {}", path(&c.spool.dir), quote(&c.spool.sync.to_string()))?;
    for listener in &c.listen {
        writeln!(
            out,
            "\n[[listen]]\naddr = {}\nmode = {}\nrequire_rdns = {}",
            quote(&listener.addr.to_string()),
            quote(&listener.mode.to_string()),
            listener.require_rdns
        )?;
    }
    match &c.tls {
        Some(tls) => writeln!(
            out,
            "\n[tls]\ncert = {}\nkey = {}\ngenerate_self_signed = {}",
            path(&tls.cert),
            path(&tls.key),
            tls.generate_self_signed
        )?,
        None => writeln!(out, "\n# [tls]: not set; no STARTTLS is offered")?,
    }
    writeln!(out, "\n[maps]")?;
    for (key, value) in [
        ("mailertable", &c.maps.mailertable),
        ("access", &c.maps.access),
        ("virtusertable", &c.maps.virtusertable),
        ("genericstable", &c.maps.genericstable),
        ("aliases", &c.maps.aliases),
        ("authinfo", &c.maps.authinfo),
    ] {
        optional_path(out, key, value.as_deref())?;
    }
    writeln!(out, "\n[routing]")?;
    match &c.routing.smart_host {
        Some(smart_host) => {
            let spec = match &smart_host.mailer {
                Some(mailer) => format!("{mailer}:{}", smart_host.host_text),
                None => smart_host.host_text.to_string(),
            };
            writeln!(out, "smart_host = {}", quote(&spec))?;
        }
        None => writeln!(out, "# smart_host: not set; mail goes to each domain's MX hosts")?,
    }
    writeln!(out, "relay_mailer = {}", quote(&c.routing.relay_mailer))?;
    writeln!(out, "features = {}", list(&c.routing.features))?;
    for (name, mailer) in &c.mailers {
        write_mailer(out, name, mailer)?;
    }
    let m = &c.masquerade;
    writeln!(out, "\n[masquerade]")?;
    match &m.masquerade_as {
        Some(domain) => writeln!(out, "as = {}", quote(domain))?,
        None => writeln!(out, "# as: not set; nothing is masqueraded")?,
    }
    writeln!(
        out,
        "domains = {}\nenvelope = {}\nall = {}\nentire_domain = {}\nexposed_users = {}",
        list(&m.domains),
        m.envelope,
        m.all,
        m.entire_domain,
        list(&m.exposed_users)
    )?;
    writeln!(out, "\n[auth]")?;
    optional_path(out, "logins", c.auth.logins.as_deref())?;
    writeln!(out, "sender_must_match = {}", c.auth.sender_must_match)?;
    let p = &c.policy;
    writeln!(
        out,
        "\n[policy]\nrequire_rdns = {}\nmax_message_size = {}\nmax_recipients = {}\nmax_connections = {}\n\
         max_connections_per_client = {}",
        p.require_rdns,
        quote(&p.max_message_size.to_string()),
        p.max_recipients,
        p.max_connections,
        p.max_connections_per_client
    )?;
    let retry: Vec<String> = c.queue.retry.iter().map(|d| format_duration(*d)).collect();
    writeln!(
        out,
        "\n[queue]\nretry = {}\nwarn_after = {}\nreturn_after = {}",
        list(&retry),
        quote(&format_duration(c.queue.warn_after)),
        quote(&format_duration(c.queue.return_after))
    )?;
    writeln!(
        out,
        "\n[local]\ndelivery = {}\npath = {}",
        quote(&c.local.delivery.to_string()),
        path(&c.local.path)
    )?;
    writeln!(out, "\n[log]\nformat = {}", quote(&c.log.format.to_string()))
}

fn write_mailer(out: &mut String, name: &str, mailer: &MailerConfig) -> std::fmt::Result {
    writeln!(out, "\n[mailers.{}]", key(name))?;
    if let Some(program) = &mailer.program {
        return writeln!(out, "program = {}\nargs = {}", path(program), list(&mailer.args));
    }
    writeln!(
        out,
        "port = {}\ntls = {}\nauth = {}",
        mailer.port,
        quote(&mailer.tls.to_string()),
        quote(&mailer.auth.to_string())
    )?;
    optional_path(out, "ca_file", mailer.ca_file.as_deref())?;
    writeln!(out, "dangerous_accept_invalid_certs = {}", mailer.dangerous_accept_invalid_certs)
}

fn optional_path(out: &mut String, key: &str, value: Option<&Path>) -> std::fmt::Result {
    match value {
        Some(value) => writeln!(out, "{key} = {}", path(value)),
        None => writeln!(out, "# {key}: not set"),
    }
}

fn path(path: &Path) -> String {
    quote(&path.to_string_lossy())
}

fn list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", items.join(", "))
}

/// A bare key when TOML allows one, else a quoted one.
fn key(name: &str) -> String {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        name.to_string()
    } else {
        quote(name)
    }
}

/// A TOML basic string.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
