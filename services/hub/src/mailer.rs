//! Outgoing email. Production sends through SMTP ([`SmtpMailer`]); `strata
//! dev` and the tests use [`OutboxMailer`], which writes each message as a
//! JSON file that people and tests can open to follow the link.

use std::path::PathBuf;

use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::error::{HubError, Result};

/// One message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
    /// The link the message is about (verification, reset, invitation).
    pub link: Option<String>,
}

/// Where mail goes.
#[async_trait::async_trait]
pub trait Mailer: Send + Sync + std::fmt::Debug {
    async fn send(&self, mail: Mail) -> Result<()>;
}

/// Writes every message to `<dir>/<time>-<n>.json`.
#[derive(Debug, Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
}

impl OutboxMailer {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        OutboxMailer { dir: dir.into() }
    }

    /// The messages sent to `to`, oldest first.
    pub fn messages_to(&self, to: &str) -> Vec<Mail> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut files: Vec<PathBuf> = entries.filter_map(|entry| entry.ok().map(|e| e.path())).collect();
        files.sort();
        files
            .iter()
            .filter_map(|path| std::fs::read(path).ok())
            .filter_map(|bytes| serde_json::from_slice::<Mail>(&bytes).ok())
            .filter(|mail| mail.to == to)
            .collect()
    }
}

#[async_trait::async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, mail: Mail) -> Result<()> {
        tokio::fs::create_dir_all(&self.dir).await.map_err(|e| HubError::Mail(format!("outbox: {e}")))?;
        let name = format!("{}-{}.json", Utc::now().format("%Y%m%dT%H%M%S%.6f"), uuid::Uuid::new_v4().simple());
        let body = serde_json::to_vec_pretty(&mail).map_err(|e| HubError::Mail(e.to_string()))?;
        tokio::fs::write(self.dir.join(name), body).await.map_err(|e| HubError::Mail(format!("outbox: {e}")))?;
        tracing::info!(to = %mail.to, subject = %mail.subject, "mail written to the outbox");
        Ok(())
    }
}

/// Sends mail through an SMTP server: `smtps://USER:PASSWORD@HOST:465`
/// (implicit TLS), `smtp://USER:PASSWORD@HOST:587?tls=required` (STARTTLS),
/// or plain `smtp://HOST:25` for a relay on a trusted network.
pub struct SmtpMailer {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
    /// The URL without its password, for logs and errors.
    server: String,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer").field("server", &self.server).field("from", &self.from.to_string()).finish()
    }
}

impl SmtpMailer {
    /// `url` as above; `from` like `Strata <noreply@example.com>`.
    pub fn new(url: &str, redacted_url: &str, from: &str) -> Result<Self> {
        let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
            .map_err(|e| HubError::Mail(format!("SMTP server {redacted_url}: {e}")))?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        let from = from.parse().map_err(|e| HubError::Mail(format!("mail_from `{from}`: {e}")))?;
        Ok(SmtpMailer { transport, from, server: redacted_url.to_owned() })
    }
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: Mail) -> Result<()> {
        use lettre::AsyncTransport;
        let to = mail.to.parse().map_err(|e| HubError::Mail(format!("recipient: {e}")))?;
        let message = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(mail.body)
            .map_err(|e| HubError::Mail(format!("cannot build the message: {e}")))?;
        self.transport.send(message).await.map_err(|e| HubError::Mail(format!("{}: {e}", self.server)))?;
        tracing::info!(to = %mail.to, subject = %mail.subject, "mail sent");
        Ok(())
    }
}
