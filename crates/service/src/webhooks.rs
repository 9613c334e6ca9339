//! Webhooks: an app's alerts POSTed to its URLs, signed with HMAC-SHA256.
//!
//! Each delivery carries `Sessionkeys-Signature: t=<unix seconds>,v1=<hex>`, where `v1` is
//! HMAC-SHA256 under the webhook's secret of `<t>.<body>` (the secret is shown once, when the
//! webhook is made, and kept sealed under the master key). A receiver recomputes it and
//! refuses old `t` to stop replays. A delivery that does not get a 2xx within 10 s is retried
//! with exponential backoff (1, 2, 4, 8 s by default), five attempts in all; every attempt is
//! in the delivery log.

use crate::alerts::AlertBody;
use crate::db::{Database, unix_now};
use crate::sql::values;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::Serialize;
use sessionkeys::store::StoreError;
use sha2::Sha256;
use std::time::Duration;
use utoipa::ToSchema;

/// Webhooks an app may have.
pub const MAX_PER_APP: usize = 10;

/// Whether an address is one anyone on the internet could be: not loopback, private, link-local
/// (cloud metadata at 169.254.169.254 among them), shared, multicast, documentation or
/// unspecified. Webhooks go only there unless the service allows private ones (`--dev`).
pub fn is_public(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public(IpAddr::V4(v4)),
            None => {
                let first = v6.segments()[0];
                !(v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || (first & 0xfe00) == 0xfc00
                    || (first & 0xffc0) == 0xfe80)
            }
        },
    }
}

/// Resolves webhook hosts to public addresses only, at connect time, so a name that later
/// points at a private address (DNS rebinding) is refused too.
#[derive(Debug)]
pub struct PublicResolver;

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addresses: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if addresses.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The client deliveries go through: 10 s per attempt, no redirects, and (unless `private`)
/// only public addresses.
pub fn client(private: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none());
    let builder = if private {
        builder
    } else {
        builder.dns_resolver(std::sync::Arc::new(PublicResolver))
    };
    builder.build().unwrap_or_default()
}

/// Refuses a webhook URL the service would not post to: not http(s), or (unless `private`)
/// not https, or an address literal that is not public.
pub fn check_url(url: &str, private: bool) -> Result<(), String> {
    if !valid_url(url) {
        return Err(format!(
            "{url:?} is not an http(s) URL with a host (and no credentials in it)"
        ));
    }
    if private {
        return Ok(());
    }
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Err(format!("{url:?} does not parse"));
    };
    if parsed.scheme() != "https" {
        return Err(format!(
            "{url:?} is not https: webhooks carry signed alerts, give an https URL"
        ));
    }
    let literal = match parsed.host() {
        Some(url::Host::Ipv4(v4)) => Some(std::net::IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Some(std::net::IpAddr::V6(v6)),
        _ => None,
    };
    if literal.is_some_and(|ip| !is_public(ip)) {
        return Err(format!(
            "{url:?} is a private or special address: give a public host"
        ));
    }
    Ok(())
}

/// Attempts per delivery.
pub const ATTEMPTS: u32 = 5;
/// The signature header.
pub const SIGNATURE_HEADER: &str = "sessionkeys-signature";

/// A webhook, as listed (never its secret).
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WebhookBody {
    /// Its id.
    pub id: String,
    /// Where alerts go.
    pub url: String,
    /// When it was made (unix seconds).
    pub created_at: i64,
}

/// One delivery attempt.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryBody {
    /// The alert delivered.
    pub alert_id: i64,
    /// Which attempt (1 to 5).
    pub attempt: u32,
    /// When (unix seconds).
    pub at: i64,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// Whether this attempt delivered it (a 2xx).
    pub delivered: bool,
}

/// The signature of `body` at time `t` under `secret`: the header's value.
pub fn signature(secret: &[u8], t: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length: new_from_slice cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={t},v1={}",
        alloy::hex::encode(mac.finalize().into_bytes())
    )
}

/// Whether `url` is one the service posts to: an absolute http or https URL with a host, no
/// credentials, at most 2048 bytes.
pub fn valid_url(url: &str) -> bool {
    url.len() <= 2048
        && reqwest::Url::parse(url).is_ok_and(|parsed| {
            matches!(parsed.scheme(), "http" | "https")
                && parsed.host_str().is_some_and(|h| !h.is_empty())
                && parsed.username().is_empty()
                && parsed.password().is_none()
        })
}

impl Database {
    /// Makes a webhook of `app_id` posting to `url`; returns it and its secret (shown once).
    pub fn create_webhook(
        &self,
        app_id: &str,
        url: &str,
    ) -> Result<(WebhookBody, String), StoreError> {
        let mut id_bytes = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut id_bytes);
        let id = format!("wh_{}", alloy::hex::encode(id_bytes));
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let secret = format!("whsec_{}", alloy::hex::encode(secret));
        let sealed = self.master().seal(&id, secret.as_bytes());
        let created_at = unix_now();
        self.sql().execute(
            "INSERT INTO webhooks (id, app_id, url, sealed_secret, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            values![&id, app_id, url, sealed, created_at],
        )?;
        Ok((
            WebhookBody {
                id,
                url: url.to_string(),
                created_at,
            },
            secret,
        ))
    }

    /// `app_id`'s webhooks.
    pub fn webhooks(&self, app_id: &str) -> Result<Vec<WebhookBody>, StoreError> {
        self.sql()
            .query(
                "SELECT id, url, created_at FROM webhooks WHERE app_id = ?1 ORDER BY created_at, id",
                values![app_id],
            )?
            .iter()
            .map(|row| {
                Ok(WebhookBody {
                    id: row.text(0)?,
                    url: row.text(1)?,
                    created_at: row.int(2)?,
                })
            })
            .collect()
    }

    /// Deletes `app_id`'s webhook `id`; whether there was one.
    pub fn delete_webhook(&self, app_id: &str, id: &str) -> Result<bool, StoreError> {
        self.sql().execute(
            "DELETE FROM webhook_deliveries WHERE webhook_id = ?1 \
             AND webhook_id IN (SELECT id FROM webhooks WHERE app_id = ?2)",
            values![id, app_id],
        )?;
        let deleted = self.sql().execute(
            "DELETE FROM webhooks WHERE id = ?1 AND app_id = ?2",
            values![id, app_id],
        )?;
        Ok(deleted == 1)
    }

    /// `app_id`'s webhooks with their secrets, to deliver to.
    fn webhook_targets(&self, app_id: &str) -> Result<Vec<(String, String, Vec<u8>)>, StoreError> {
        let rows = self.sql().query(
            "SELECT id, url, sealed_secret FROM webhooks WHERE app_id = ?1",
            values![app_id],
        )?;
        let mut targets = Vec::new();
        for row in rows {
            let (id, url, sealed) = (row.text(0)?, row.text(1)?, row.blob(2)?);
            let secret = self.master().open(&id, &sealed).ok_or(StoreError::Sealed {
                key_ref: id.clone(),
            })?;
            targets.push((id, url, secret));
        }
        Ok(targets)
    }

    fn log_delivery(&self, webhook_id: &str, delivery: &DeliveryBody) -> Result<(), StoreError> {
        self.sql().execute(
            "INSERT INTO webhook_deliveries (webhook_id, alert_id, attempt, at, status, error, delivered) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            values![
                webhook_id,
                delivery.alert_id,
                delivery.attempt,
                delivery.at,
                delivery.status,
                delivery.error.clone(),
                delivery.delivered
            ],
        )?;
        Ok(())
    }

    /// The delivery log of `app_id`'s webhook `id`, newest first.
    pub fn deliveries(
        &self,
        app_id: &str,
        id: &str,
        limit: u32,
    ) -> Result<Option<Vec<DeliveryBody>>, StoreError> {
        let owned = self
            .sql()
            .query_one(
                "SELECT COUNT(*) FROM webhooks WHERE id = ?1 AND app_id = ?2",
                values![id, app_id],
            )?
            .is_some_and(|row| row.int(0).is_ok_and(|count| count == 1));
        if !owned {
            return Ok(None);
        }
        self.sql()
            .query(
                "SELECT alert_id, attempt, at, status, error, delivered FROM webhook_deliveries \
                 WHERE webhook_id = ?1 ORDER BY id DESC LIMIT ?2",
                values![id, limit],
            )?
            .iter()
            .map(|row| {
                Ok(DeliveryBody {
                    alert_id: row.int(0)?,
                    attempt: row.number(1)?,
                    at: row.int(2)?,
                    status: row.opt_int(3)?.map(|_| row.number(3)).transpose()?,
                    error: row.opt_text(4)?,
                    delivered: row.int(5)? != 0,
                })
            })
            .collect::<Result<_, StoreError>>()
            .map(Some)
    }
}

/// Delivers `alert` to every webhook of its app, in the background: up to [`ATTEMPTS`] tries
/// each, `backoff`, then twice that, and so on between them.
pub fn deliver(db: std::sync::Arc<crate::Service>, alert: AlertBody, backoff: Duration) {
    let targets = match db.db().webhook_targets(&alert.app_id) {
        Ok(targets) => targets,
        Err(_) => return,
    };
    let Ok(body) = serde_json::to_vec(&serde_json::json!({ "type": "alert", "alert": alert }))
    else {
        return;
    };
    for (id, url, secret) in targets {
        let service = db.clone();
        let body = body.clone();
        let alert_id = alert.id;
        let client = service.webhook_client.clone();
        tokio::spawn(async move {
            for attempt in 1..=ATTEMPTS {
                let t = unix_now();
                let sent = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header(SIGNATURE_HEADER, signature(&secret, t, &body))
                    .header("sessionkeys-webhook", id.as_str())
                    .body(body.clone())
                    .send()
                    .await;
                let (status, error) = match sent {
                    Ok(response) => (Some(response.status().as_u16()), None),
                    Err(error) => (None, Some(error.without_url().to_string())),
                };
                let delivered = status.is_some_and(|s| (200..300).contains(&s));
                let _ = service.db().log_delivery(
                    &id,
                    &DeliveryBody {
                        alert_id,
                        attempt,
                        at: t,
                        status,
                        error: error.or_else(|| {
                            (!delivered).then(|| {
                                format!("the receiver answered {}", status.unwrap_or_default())
                            })
                        }),
                        delivered,
                    },
                );
                if delivered {
                    return;
                }
                if attempt < ATTEMPTS {
                    tokio::time::sleep(backoff * 2u32.pow(attempt - 1)).await;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_time_dot_body() {
        // RFC 4231 test case 2's key and data, split as "<t>.<body>" would be.
        let header = signature(b"Jefe", 0, b"what do ya want for nothing?");
        assert!(header.starts_with("t=0,v1="));
        let expected = {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"Jefe").unwrap();
            mac.update(b"0.what do ya want for nothing?");
            alloy::hex::encode(mac.finalize().into_bytes())
        };
        assert_eq!(header, format!("t=0,v1={expected}"));
        assert_ne!(signature(b"Jefe", 1, b"x"), signature(b"Jefe", 2, b"x"));
    }

    #[test]
    fn webhooks_go_to_public_https_hosts_unless_private_ones_are_allowed() {
        assert!(check_url("https://hooks.example.com/x", false).is_ok());
        for private in [
            "http://hooks.example.com/x",
            "https://127.0.0.1/x",
            "https://10.1.2.3/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://100.64.0.1/",
        ] {
            assert!(check_url(private, false).is_err(), "{private}");
            assert!(
                check_url(private, true).is_ok(),
                "{private} with private allowed"
            );
        }
        assert!(is_public("8.8.8.8".parse().unwrap()));
        assert!(is_public("2001:4860:4860::8888".parse().unwrap()));
    }

    #[test]
    fn webhook_urls_are_http_or_https_with_a_host() {
        assert!(valid_url("https://hooks.example.com/sessionkeys"));
        assert!(valid_url("http://127.0.0.1:9000/"));
        for bad in [
            "",
            "ftp://x",
            "https://",
            "javascript:alert(1)",
            "http://user@host/",
        ] {
            assert!(!valid_url(bad), "{bad}");
        }
    }
}
