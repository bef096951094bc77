//! The hub: owns the list of attached views, turns each published
//! snapshot into one encoded line (an update, or the full snapshot) and
//! offers it to every view's bounded queue without ever waiting.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};

use super::protocol::{self, Hello, Role, ServerMsg};
use super::server::shutdown_requested;
use crate::engine::Actor;
use crate::snapshot::Snapshot;

/// A line shared by every view it is sent to.
pub(crate) type Line = Arc<[u8]>;

pub(crate) enum HubCmd {
    Register {
        id: u64,
        actor: Actor,
        queue: mpsc::Sender<Line>,
        close: watch::Sender<Option<String>>,
    },
    Unregister {
        id: u64,
    },
    Notice {
        to: Option<u64>,
        text: String,
    },
    Kick {
        id: u64,
        reason: String,
    },
}

/// Set the close reason unless one is set already (the first cause wins).
pub(crate) fn close(tx: &watch::Sender<Option<String>>, reason: &str) {
    tx.send_if_modified(|v| {
        if v.is_none() {
            *v = Some(reason.to_string());
            true
        } else {
            false
        }
    });
}

struct Slot {
    queue: mpsc::Sender<Line>,
    close: watch::Sender<Option<String>>,
}

pub(crate) struct Hub {
    snapshots: watch::Receiver<Arc<Snapshot>>,
    cmds: mpsc::UnboundedReceiver<HubCmd>,
    shutdown: watch::Receiver<bool>,
    /// The snapshot every view has (or has queued); deltas start from it.
    current: Arc<Snapshot>,
    /// `current` encoded in full, for views that attach (built lazily).
    full_line: Option<Line>,
    slots: HashMap<u64, Slot>,
    views: Arc<Mutex<BTreeMap<u64, Actor>>>,
    count: Arc<AtomicUsize>,
}

impl Hub {
    pub(crate) fn new(
        snapshots: watch::Receiver<Arc<Snapshot>>,
        cmds: mpsc::UnboundedReceiver<HubCmd>,
        shutdown: watch::Receiver<bool>,
        views: Arc<Mutex<BTreeMap<u64, Actor>>>,
        count: Arc<AtomicUsize>,
    ) -> Self {
        let current = snapshots.borrow().clone();
        Hub {
            snapshots,
            cmds,
            shutdown,
            current,
            full_line: None,
            slots: HashMap::new(),
            views,
            count,
        }
    }

    pub(crate) async fn run(mut self) {
        let reason = loop {
            tokio::select! {
                biased;
                _ = shutdown_requested(&mut self.shutdown) => break "the driver is shutting down",
                c = self.cmds.recv() => match c {
                    Some(c) => self.command(c),
                    None => break "the driver is shutting down",
                },
                r = self.snapshots.changed() => {
                    if r.is_err() {
                        break "the driver stopped";
                    }
                    let next = self.snapshots.borrow_and_update().clone();
                    self.publish(next);
                }
            }
        };
        for (_, slot) in self.slots.drain() {
            close(&slot.close, reason);
        }
        self.sync_views();
    }

    fn publish(&mut self, next: Arc<Snapshot>) {
        if Arc::ptr_eq(&next, &self.current) {
            return;
        }
        if self.slots.is_empty() {
            // Nobody to send a delta to: a view that attaches later gets
            // the full snapshot (encoded then), so building, checking and
            // encoding one for each publish would only cost the driver's
            // process CPU (most of it, with a view on its own terminal).
            self.current = next;
            self.full_line = None;
            return;
        }
        let msg = protocol::diff(&self.current, &next);
        self.current = next;
        self.full_line = None;
        match protocol::encode(&msg) {
            Ok(line) => {
                let line: Line = line.into();
                if matches!(msg, ServerMsg::Snapshot(_)) {
                    self.full_line = Some(line.clone());
                }
                self.broadcast(&line, None);
            }
            Err(e) => {
                // Views can no longer follow; better to say so than drift.
                let reason = format!("the driver could not encode its state: {e}");
                for (_, slot) in self.slots.drain() {
                    close(&slot.close, &reason);
                }
                self.sync_views();
            }
        }
    }

    /// Offer `line` to every view (or one), never waiting: a full queue
    /// means the view fell behind and is dropped.
    fn broadcast(&mut self, line: &Line, only: Option<u64>) {
        let mut gone = Vec::new();
        for (id, slot) in &self.slots {
            if only.is_some_and(|o| o != *id) {
                continue;
            }
            match slot.queue.try_send(line.clone()) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    close(
                        &slot.close,
                        "too slow: this view fell too far behind and was dropped; attach again",
                    );
                    gone.push(*id);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => gone.push(*id),
            }
        }
        if !gone.is_empty() {
            for id in gone {
                self.slots.remove(&id);
            }
            self.sync_views();
        }
    }

    fn command(&mut self, cmd: HubCmd) {
        match cmd {
            HubCmd::Register {
                id,
                actor,
                queue,
                close: close_tx,
            } => {
                let role = if self.current.driver.as_deref() == Some(actor.user.as_str()) {
                    Role::Driver
                } else {
                    Role::Viewer
                };
                let hello = ServerMsg::Hello(Hello {
                    version: protocol::PROTOCOL_VERSION,
                    rollout_id: self.current.rollout_id.clone(),
                    you: actor.clone(),
                    role,
                    client_id: id,
                });
                let full = match self.full_line.clone() {
                    Some(l) => Ok(l),
                    None => {
                        protocol::encode(&ServerMsg::Snapshot(Box::new((*self.current).clone())))
                            .map(Line::from)
                    }
                };
                let (Ok(hello), Ok(full)) = (protocol::encode(&hello), full) else {
                    close(&close_tx, "the driver could not encode its state");
                    return;
                };
                self.full_line = Some(full.clone());
                // A fresh queue has room for both; if not, the view is gone.
                if queue.try_send(hello.into()).is_err() || queue.try_send(full).is_err() {
                    close(&close_tx, "could not queue the first snapshot");
                    return;
                }
                self.slots.insert(
                    id,
                    Slot {
                        queue,
                        close: close_tx,
                    },
                );
                if let Ok(mut v) = self.views.lock() {
                    v.insert(id, actor);
                }
                self.sync_views();
            }
            HubCmd::Unregister { id } => {
                self.slots.remove(&id);
                self.sync_views();
            }
            HubCmd::Notice { to, text } => {
                if let Ok(line) = protocol::encode(&ServerMsg::Notice { text }) {
                    self.broadcast(&line.into(), to);
                }
            }
            HubCmd::Kick { id, reason } => {
                if let Some(slot) = self.slots.remove(&id) {
                    close(&slot.close, &reason);
                    self.sync_views();
                }
            }
        }
    }

    fn sync_views(&self) {
        let mut v = self.views.lock().unwrap_or_else(|e| e.into_inner());
        v.retain(|id, _| self.slots.contains_key(id));
        self.count.store(self.slots.len(), Ordering::Relaxed);
    }
}
