//! Checks answered from what the service already read: a session's chain view (the
//! validator's words, the installed-module answers, the nonce, the time) is kept until the
//! chain's head moves, so checks of a busy session cost no chain read.
//!
//! A view is read at one head and kept only if the head did not move while it was read; every
//! head change drops every view, so whatever the chain applied in the new block — a revoke, an
//! epoch bump, an op that spent a budget — is read again before the next check is answered.
//! How the head is known is the backend's to say ([`Backend::head`]): the devnet stamps every
//! change to its state, so a view there is never stale; a node's head is asked at most every
//! `head_every` (default: at each check). A backend that cannot say keeps nothing. Sessions
//! whose key the service lacks (ERC-7715: the app signs) are always read from the chain: others
//! send their ops. The execute path never uses a view: it reads the chain itself and the
//! validator judges again on-chain (docs/service.md, "Checks from the service's state").

use crate::unpoisoned::lock;
use alloy::primitives::{Address, B256};
use sessionkeys::backend::{Backend, Head};
use sessionkeys::store::{StoredApproval, StoredSession, StoredStatus};
use sessionkeys::{Call, SdkError, SessionClient};
use sessionkeys::{ChainView, Precheck};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// At most this many views or judges are kept; past it they are all dropped (and read again).
const MOST_KEPT: usize = 65_536;
/// Views for ops calling more distinct targets than this are not kept (a view's key holds its
/// targets: this bounds what one view may hold).
const MOST_TARGETS_KEPT: usize = 16;

/// The views of one head, by session hash and the targets they answer for.
#[derive(Default)]
struct Views {
    head: Option<Head>,
    by_session: HashMap<(B256, Vec<Address>), Arc<ChainView>>,
}

/// The kept views and the clients that judge against them.
pub(crate) struct ChainViews {
    head_every: Duration,
    head: Mutex<Option<(Head, Instant)>>,
    views: Mutex<Views>,
    judges: Mutex<HashMap<String, Judge>>,
}

/// A session's judge, and the status and approval it was made for (by session id).
struct Judge {
    status: StoredStatus,
    approval: Option<StoredApproval>,
    client: Arc<SessionClient>,
}

impl ChainViews {
    /// Views kept while the head stays put; the head asked at most every `head_every`
    /// (`Duration::ZERO`: at each check).
    pub(crate) fn new(head_every: Duration) -> Self {
        Self {
            head_every,
            head: Mutex::default(),
            views: Mutex::default(),
            judges: Mutex::default(),
        }
    }

    /// The head, asked again when the last answer is older than `head_every`.
    async fn head(&self, backend: &dyn Backend) -> Result<Option<Head>, SdkError> {
        if !self.head_every.is_zero()
            && let Some((head, asked)) = *lock(&self.head)
            && asked.elapsed() < self.head_every
        {
            return Ok(Some(head));
        }
        let head = backend.head().await?;
        *lock(&self.head) = head.map(|head| (head, Instant::now()));
        Ok(head)
    }

    /// The client that judges `stored`'s ops (it holds no key), kept while its status is.
    pub(crate) fn judge(
        &self,
        backend: &Arc<dyn Backend>,
        id: &str,
        stored: &StoredSession,
    ) -> Result<Arc<SessionClient>, SdkError> {
        if let Some(judge) = lock(&self.judges).get(id)
            && judge.status == stored.status
            && judge.approval == stored.approval
        {
            return Ok(Arc::clone(&judge.client));
        }
        let judge = Arc::new(SessionClient::without_key(Arc::clone(backend), stored)?);
        let mut judges = lock(&self.judges);
        if judges.len() >= MOST_KEPT {
            judges.clear();
        }
        judges.insert(
            id.to_string(),
            Judge {
                status: stored.status,
                approval: stored.approval.clone(),
                client: Arc::clone(&judge),
            },
        );
        Ok(judge)
    }

    /// `judge`'s verdict on `calls`, against the kept view of its session for their targets
    /// when the head has not moved since it was read, else against a view read now.
    pub(crate) async fn precheck(
        &self,
        backend: &dyn Backend,
        judge: &SessionClient,
        calls: &[Call],
    ) -> Result<Precheck, SdkError> {
        let Some(head) = self.head(backend).await? else {
            return judge.precheck(calls).await;
        };
        let mut targets: Vec<Address> = calls.iter().map(|c| c.to).collect();
        targets.sort();
        targets.dedup();
        let key = (judge.session_hash(), targets);
        if let Some(view) = self.kept(head, &key) {
            return judge.precheck_on(&view, calls);
        }
        let view = Arc::new(judge.chain_view(key.1.clone()).await?);
        // Kept only if the chain did not move while it was read.
        if backend.head().await? == Some(head) {
            let mut views = lock(&self.views);
            if views.head == Some(head)
                && views.by_session.len() < MOST_KEPT
                && key.1.len() <= MOST_TARGETS_KEPT
            {
                views.by_session.insert(key, Arc::clone(&view));
            }
        }
        judge.precheck_on(&view, calls)
    }

    /// The view kept for `key` at `head`; views of any other head are dropped.
    fn kept(&self, head: Head, key: &(B256, Vec<Address>)) -> Option<Arc<ChainView>> {
        let mut views = lock(&self.views);
        if views.head != Some(head) {
            views.head = Some(head);
            views.by_session.clear();
            return None;
        }
        views.by_session.get(key).cloned()
    }

    /// Drops every view: this service sent something (its own op may land before the head is
    /// asked again).
    pub(crate) fn forget(&self) {
        let mut views = lock(&self.views);
        views.head = None;
        views.by_session.clear();
        *lock(&self.head) = None;
    }
}
