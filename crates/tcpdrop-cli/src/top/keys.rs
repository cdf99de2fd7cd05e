//! The view's state on the input side, and what each key does to it: the
//! cursor, the marks, the filter being edited, the confirmation of a drop.
//! A key never waits for the kernel: what needs it is a [`Control`] for
//! the worker.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ssfilter::Filter;
use tcpdrop::Connection;

use super::model::{Key, Life, Sort, View};
use super::names::Names;
use super::worker::{Control, Report, RowOutcome};

/// The intervals `+` and `-` step through.
const INTERVALS: [Duration; 8] = [
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(5),
    Duration::from_secs(10),
    Duration::from_secs(30),
];

/// What the keys go to.
#[derive(Debug, Default)]
pub(crate) enum Mode {
    #[default]
    Normal,
    /// `/`: the filter being typed, and why the last Enter refused it.
    Filter {
        input: String,
        error: Option<String>,
    },
    /// `d`: the drop waiting for `y`.
    Confirm(Confirm),
    /// `?`.
    Help,
}

/// A drop waiting for confirmation.
#[derive(Debug, Default)]
pub(crate) struct Confirm {
    /// What will be dropped.
    pub(crate) targets: Vec<(Key, Connection)>,
    /// Their loopback peers on screen: a drop resets them too.
    pub(crate) peers: Vec<Connection>,
    /// Listeners picked but left out: `listening` is not in the selection.
    pub(crate) listeners: Vec<Connection>,
}

/// The input side of the view.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) view: Arc<View>,
    /// The row under the cursor, by position and by key (the key keeps the
    /// cursor on its connection as rows move).
    pub(crate) cursor: usize,
    pub(crate) cursor_key: Option<Key>,
    /// The first row on screen.
    pub(crate) offset: usize,
    /// How many rows fit on screen (set when drawn).
    pub(crate) page: usize,
    pub(crate) marked: HashSet<Key>,
    pub(crate) mode: Mode,
    /// The filter in force, as typed.
    pub(crate) filter_text: String,
    /// `-s listening` was given: listeners may be dropped whatever the filter.
    pub(crate) listening_named: bool,
    /// The filter in force names `state listening`.
    pub(crate) filter_listening: bool,
    pub(crate) sort: Sort,
    pub(crate) paused: bool,
    pub(crate) interval: Duration,
    /// The status line: the last drop's summary, or an error.
    pub(crate) status: Option<String>,
    pub(crate) outcomes: HashMap<Key, RowOutcome>,
    /// Several namespaces, or one named: a Netns column.
    pub(crate) netns_column: bool,
    /// `n`: the ends by name (from /etc/hosts and /etc/services).
    pub(crate) names: Option<Arc<Names>>,
    pub(crate) quit: bool,
}

impl App {
    pub(crate) fn new(view: Arc<View>, interval: Duration) -> App {
        App {
            view,
            cursor: 0,
            cursor_key: None,
            offset: 0,
            page: 10,
            marked: HashSet::new(),
            mode: Mode::Normal,
            filter_text: String::new(),
            listening_named: false,
            filter_listening: false,
            sort: Sort::default(),
            paused: false,
            interval,
            status: None,
            outcomes: HashMap::new(),
            netns_column: false,
            names: None,
            quit: false,
        }
    }

    /// Whether a listener may be dropped: `listening` is in the selection.
    pub(crate) fn listeners_allowed(&self) -> bool {
        self.listening_named || self.filter_listening
    }

    /// A report from the worker.
    pub(crate) fn report(&mut self, report: Report) {
        match report {
            Report::View(view) => self.set_view(view),
            Report::Outcome(key, outcome) => {
                self.outcomes.insert(key, outcome);
            }
            Report::Dropped {
                dropped,
                gone,
                failed,
                reason,
            } => {
                let mut text = format!("dropped {dropped}, gone {gone}, failed {failed}");
                if let Some(reason) = reason {
                    text.push_str(&format!(" — failed: {reason}"));
                }
                self.status = Some(text);
            }
            Report::Error(text) => self.status = Some(text),
        }
    }

    /// A new refresh: the cursor stays on its connection if it is still
    /// shown, else at the same position; marks and outcomes of connections
    /// no longer listed are forgotten.
    pub(crate) fn set_view(&mut self, view: Arc<View>) {
        self.view = view;
        if let Some(at) = self.cursor_key.and_then(|k| self.view.position(k)) {
            self.cursor = at;
        }
        self.clamp();
        if !self.marked.is_empty() || !self.outcomes.is_empty() {
            let listed: HashSet<Key> = self.view.rows.iter().map(|r| r.key()).collect();
            self.marked.retain(|k| listed.contains(k));
            self.outcomes.retain(|k, _| listed.contains(k));
        }
    }

    /// Keep the cursor on a row and on screen.
    pub(crate) fn clamp(&mut self) {
        let len = self.view.len();
        self.cursor = self.cursor.min(len.saturating_sub(1));
        self.cursor_key = self.view.row(self.cursor).map(|r| r.key());
        let page = self.page.max(1);
        if self.cursor < self.offset {
            self.offset = self.cursor;
        } else if self.cursor >= self.offset + page {
            self.offset = self.cursor + 1 - page;
        }
        self.offset = self.offset.min(len.saturating_sub(page));
    }

    fn move_to(&mut self, at: usize) {
        self.cursor = at;
        self.clamp();
    }

    /// Handle one key; what the worker must do about it.
    pub(crate) fn key(&mut self, key: KeyEvent) -> Vec<Control> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            self.quit = true;
            return Vec::new();
        }
        match std::mem::take(&mut self.mode) {
            Mode::Normal => self.normal_key(key),
            Mode::Filter { input, error } => self.filter_key(key, input, error),
            Mode::Confirm(confirm) => self.confirm_key(key, confirm),
            // Any key closes the help.
            Mode::Help => Vec::new(),
        }
    }

    fn normal_key(&mut self, key: KeyEvent) -> Vec<Control> {
        let page = self.page.max(1);
        let last = self.view.len().saturating_sub(1);
        match key.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Up | KeyCode::Char('k') => self.move_to(self.cursor.saturating_sub(1)),
            KeyCode::Down | KeyCode::Char('j') => self.move_to((self.cursor + 1).min(last)),
            KeyCode::PageUp => self.move_to(self.cursor.saturating_sub(page)),
            KeyCode::PageDown => self.move_to((self.cursor + page).min(last)),
            KeyCode::Home | KeyCode::Char('g') => self.move_to(0),
            KeyCode::End | KeyCode::Char('G') => self.move_to(last),
            KeyCode::Char('/') => {
                self.mode = Mode::Filter {
                    input: self.filter_text.clone(),
                    error: None,
                }
            }
            KeyCode::Char('s') => {
                self.sort.column = self.sort.column.next(self.netns_column);
                return vec![Control::Sort(self.sort)];
            }
            KeyCode::Char('S') => {
                self.sort.reverse = !self.sort.reverse;
                return vec![Control::Sort(self.sort)];
            }
            KeyCode::Char(' ') => {
                if let Some(row) = self.view.row(self.cursor) {
                    let key = row.key();
                    if !self.marked.remove(&key) {
                        self.marked.insert(key);
                    }
                    self.move_to((self.cursor + 1).min(last));
                }
            }
            KeyCode::Esc => self.marked.clear(),
            KeyCode::Char('d') | KeyCode::Delete => self.ask_drop(),
            KeyCode::Char('p') => {
                self.paused = !self.paused;
                return vec![Control::Pause(self.paused)];
            }
            KeyCode::Char('+') | KeyCode::Char('=') => return self.step_interval(true),
            KeyCode::Char('-') => return self.step_interval(false),
            KeyCode::Char('r') => return vec![Control::Refresh],
            KeyCode::Char('n') => {
                self.names = match self.names {
                    None => Some(Arc::new(Names::load())),
                    Some(_) => None,
                }
            }
            KeyCode::Char('?') | KeyCode::F(1) => self.mode = Mode::Help,
            _ => {}
        }
        Vec::new()
    }

    fn step_interval(&mut self, longer: bool) -> Vec<Control> {
        let next = if longer {
            INTERVALS.iter().find(|&&i| i > self.interval)
        } else {
            INTERVALS.iter().rev().find(|&&i| i < self.interval)
        };
        match next {
            Some(&interval) => {
                self.interval = interval;
                vec![Control::Interval(interval)]
            }
            None => Vec::new(),
        }
    }

    /// `d`: the marked rows, or the one under the cursor, to confirm.
    fn ask_drop(&mut self) {
        let picked: Vec<&super::model::Row> = if self.marked.is_empty() {
            self.view.row(self.cursor).into_iter().collect()
        } else {
            (0..self.view.len())
                .filter_map(|i| self.view.row(i))
                .filter(|r| self.marked.contains(&r.key()))
                .collect()
        };
        let open: Vec<&super::model::Row> = picked
            .iter()
            .copied()
            .filter(|r| r.life != Life::Closed)
            .collect();
        if open.is_empty() {
            self.status = Some(if picked.is_empty() {
                "nothing to drop".to_string()
            } else {
                "that connection has already closed".to_string()
            });
            return;
        }
        let allowed = self.listeners_allowed();
        let (listeners, targets): (Vec<_>, Vec<_>) = open
            .into_iter()
            .partition(|r| r.conn().is_listener() && !allowed);
        let targets: Vec<(Key, Connection)> = targets
            .into_iter()
            .map(|r| (r.key(), r.conn().clone()))
            .collect();
        // The loopback peers: rows whose ends are a target's ends reversed.
        let ends: HashSet<(u16, std::net::SocketAddr, std::net::SocketAddr)> = targets
            .iter()
            .map(|(k, c)| (k.space, c.remote, c.local))
            .collect();
        let chosen: HashSet<Key> = targets.iter().map(|(k, _)| *k).collect();
        let peers = self
            .view
            .rows
            .iter()
            .filter(|r| r.life != Life::Closed && !chosen.contains(&r.key()))
            .filter(|r| {
                let c = r.conn();
                ends.contains(&(r.sample.space, c.local, c.remote))
            })
            .map(|r| r.conn().clone())
            .collect();
        self.mode = Mode::Confirm(Confirm {
            targets,
            peers,
            listeners: listeners.into_iter().map(|r| r.conn().clone()).collect(),
        });
    }

    fn confirm_key(&mut self, key: KeyEvent, confirm: Confirm) -> Vec<Control> {
        match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') if !confirm.targets.is_empty() => {
                for (key, _) in &confirm.targets {
                    self.outcomes.insert(
                        *key,
                        RowOutcome {
                            word: "dropping",
                            detail: String::new(),
                        },
                    );
                }
                self.marked.clear();
                let n = confirm.targets.len();
                self.status = Some(format!(
                    "dropping {n} connection{}…",
                    if n == 1 { "" } else { "s" }
                ));
                vec![Control::Drop {
                    targets: confirm.targets,
                    listeners: self.listeners_allowed(),
                }]
            }
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => {
                self.status = Some("nothing dropped".to_string());
                Vec::new()
            }
            _ => {
                self.mode = Mode::Confirm(confirm);
                Vec::new()
            }
        }
    }

    fn filter_key(
        &mut self,
        key: KeyEvent,
        mut input: String,
        error: Option<String>,
    ) -> Vec<Control> {
        match key.code {
            KeyCode::Esc => Vec::new(),
            KeyCode::Enter => {
                let text = input.trim().to_string();
                let parsed = if text.is_empty() {
                    Ok(None)
                } else {
                    Filter::parse(&[text.as_str()]).map(Some)
                };
                match parsed {
                    Ok(filter) => {
                        self.filter_listening =
                            filter.as_ref().is_some_and(Filter::names_listening);
                        self.filter_text = text;
                        self.outcomes.clear();
                        self.marked.clear();
                        vec![Control::Filter(filter)]
                    }
                    Err(err) => {
                        // The old filter stays in force.
                        self.mode = Mode::Filter {
                            input,
                            error: Some(err.to_string()),
                        };
                        Vec::new()
                    }
                }
            }
            KeyCode::Backspace => {
                input.pop();
                self.mode = Mode::Filter { input, error };
                Vec::new()
            }
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.mode = Mode::Filter {
                    input: String::new(),
                    error,
                };
                Vec::new()
            }
            KeyCode::Char(c) => {
                input.push(c);
                self.mode = Mode::Filter { input, error };
                Vec::new()
            }
            _ => {
                self.mode = Mode::Filter { input, error };
                Vec::new()
            }
        }
    }

    /// The inodes of the rows on screen.
    pub(crate) fn visible_inodes(&self) -> Vec<u32> {
        (self.offset..self.offset + self.page)
            .filter_map(|i| self.view.row(i))
            .filter(|r| r.life != Life::Closed)
            .map(|r| r.conn().inode)
            .collect()
    }
}
