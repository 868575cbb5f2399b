//! The window terminal (`hallq window`): what the clerk at one window looks
//! at all day. The current ticket and how long it has been served, the
//! queue of the items this window serves with their lanes, and one key per
//! action, with the daemon's answer (or refusal) spelled out.
//!
//! Split like the rest of hallq: [`WindowTerminal`] is plain state — a key
//! goes in, an [`Intent`] comes out; an answer goes in, the screen changes;
//! [`WindowTerminal::draw`] renders onto any ratatui backend (the tests use
//! `TestBackend`). [`run`] is the only part that touches the terminal and
//! the network.
//!
//! Keys (also shown at the bottom of the screen):
//!
//! | key | action |
//! |---|---|
//! | `n`, Enter | call the next ticket (叫号) |
//! | `g` | call one ticket by number |
//! | `r` | recall (重呼) |
//! | `s` | start serving (开始办理) |
//! | `f` | finish (办结); with `--clerk-rating`, then the visitor's rating `1`–`5` or Enter for none |
//! | `x` | no-show (过号), asks `y` first |
//! | `b` | reinstate a no-show by number (过号恢复) |
//! | `l` | log in (工号 and post: `S1002 A`), or log out if logged in (asks `y`) (AB岗) |
//! | `t` | transfer to an item (`B`) or a window (`3`) (转办) |
//! | `p` | pause with a reason (暂停), or resume a paused window |
//! | `o` / `c` | open / close the window (close asks `y`) |
//! | `u` | refresh now |
//! | `q`, Esc | quit |
//!
//! The network never blocks the screen ([`run`] sends in the background):
//! while an action is on its way the answer line says 发送中…, the header
//! says at once when hallqd cannot be reached (instead of the window's
//! last known state), and a link error is cleared once the link is back.
//! Every text comes from [`crate::text`]: Chinese, or English with
//! `--lang en`.

mod run;

pub use run::{perform, run, TerminalError};

use crate::screen::clock;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table};
use ratatui::Frame;

use crate::client::ClientError;
use crate::text::{self, Lang};
use hallq_proto::types::{
    ItemCode, Lane, Post, PriorityReason, Rating, StaffId, TicketNo, Timestamp, WindowNo,
};
use hallq_proto::views::{WaitingTicket, WindowState, WindowView};
use hallq_proto::wire::{Response, Status, Target, Welcome, WindowAction};

/// What `pause` shows visitors when the clerk gives no reason.
pub const DEFAULT_PAUSE_REASON: &str = "暂停服务";

/// What the clerk asked for with a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// Send this action for this window.
    Act(WindowAction),
    /// Put a no-show back into its line (过号恢复).
    Reinstate(TicketNo),
    /// Fetch the queue and window state again.
    Refresh,
    /// Leave the terminal.
    Quit,
}

/// What the keyboard is doing: single-key actions, or one of the small
/// prompts some actions need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// One key, one action.
    Keys,
    /// After `f`: the rating, 1–5, or none.
    Rating,
    /// After `t`: an item letter or a window number.
    Transfer(String),
    /// After `p`: the reason shown to visitors.
    Pause(String),
    /// After `g`: a ticket number.
    CallTicket(String),
    /// After `c`: closing needs a `y`.
    ConfirmClose,
    /// After `x`: a no-show needs a `y` (a visitor marked 过号 by a slip
    /// of the finger loses their place).
    ConfirmNoShow,
    /// After `b`: the no-show's number.
    Reinstate(String),
    /// After `l` with nobody logged in: 工号 and post.
    Login(String),
    /// After `l` with someone logged in: logging out needs a `y`.
    ConfirmLogout,
}

/// Whether the terminal can reach hallqd, as the last request found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Nothing asked yet.
    Unknown,
    /// The last request was answered (even with a refusal).
    Up,
    /// The last request found no hallqd; since then.
    Down(Timestamp),
}

/// The last answer, shown until the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    /// Whether it went through.
    pub ok: bool,
    /// For the clerk.
    pub text: String,
    /// It says the link is broken: cleared when the link is back.
    pub link: bool,
}

/// The state of one window's terminal.
#[derive(Debug, Clone)]
pub struct WindowTerminal {
    window: WindowNo,
    hall_name: String,
    status: Option<Status>,
    mode: Mode,
    feedback: Option<Feedback>,
    /// The current ticket, whether it is being served, and since when this
    /// terminal has seen it so (the protocol does not carry the instant
    /// service started, so a restarted terminal counts from its start).
    since: Option<(TicketNo, bool, Timestamp)>,
    /// When the queue was last fetched.
    refreshed_at: Option<Timestamp>,
    /// Whether hallqd answers.
    link: Link,
    /// The action on its way to hallqd, if any ([`run`] sends in the
    /// background; one at a time, so a key pressed twice is not sent twice).
    sending: Option<String>,
    /// Item and lane of every ticket seen waiting, for the current-ticket
    /// box (a window's view names only the ticket).
    seen: std::collections::HashMap<TicketNo, (ItemCode, Lane)>,
    lang: Lang,
    /// `f` asks for the visitor's rating: only where the hall lets the
    /// clerk enter it (`clerk_rating`, off by default; issue 18: 好差评
    /// is the visitor's own, on their phone).
    clerk_rating: bool,
}

impl WindowTerminal {
    /// The terminal for the window `welcome` names; `None` if the token is
    /// not a window terminal's.
    pub fn new(welcome: &Welcome) -> Option<WindowTerminal> {
        Some(WindowTerminal {
            window: welcome.window?,
            hall_name: welcome.hall_name.clone(),
            status: None,
            mode: Mode::Keys,
            feedback: None,
            since: None,
            refreshed_at: None,
            clerk_rating: false,
            link: Link::Unknown,
            sending: None,
            seen: std::collections::HashMap::new(),
            lang: text::lang(),
        })
    }

    /// The same terminal in another language (tests; `run` uses the
    /// process's, from `--lang`).
    pub fn with_lang(mut self, lang: Lang) -> WindowTerminal {
        self.lang = lang;
        self
    }

    /// Whether hallqd answered the last request.
    pub fn link(&self) -> Link {
        self.link
    }

    /// An action is on its way: shown as 发送中… until its answer comes.
    pub fn sending(&mut self, intent: &Intent) {
        let what = match intent {
            Intent::Act(action) => text::action(action, self.lang),
            Intent::Reinstate(_) => text::action_name("reinstate", self.lang),
            Intent::Refresh | Intent::Quit => return,
        };
        self.sending = Some(what.to_owned());
    }

    /// A request has had no answer since `since`, for longer than hallqd
    /// takes on a working link: say at once that the link is down, not
    /// after the request's timeout (issue 17: 10–15 s of 开放 with hallqd
    /// gone). The next answer puts it right.
    pub fn no_answer_since(&mut self, since: Timestamp) {
        if !matches!(self.link, Link::Down(_)) {
            self.link = Link::Down(since);
        }
    }

    /// Whether an action is on its way.
    pub fn is_sending(&self) -> bool {
        self.sending.is_some()
    }

    fn t(&self, zh: &'static str, en: &'static str) -> &'static str {
        self.lang.pick(zh, en)
    }

    /// Notes whether a request reached hallqd; a link that is back clears
    /// the error that said it was not.
    fn note_link(&mut self, result: Result<(), &ClientError>, now: Timestamp) {
        match result {
            Err(e) if run::link_broken(e) => {
                if !matches!(self.link, Link::Down(_)) {
                    self.link = Link::Down(now);
                }
            }
            _ => {
                self.link = Link::Up;
                if self.feedback.as_ref().is_some_and(|f| f.link) {
                    self.feedback = None;
                }
            }
        }
    }

    /// Lets `f` ask for the visitor's rating (a hall with `clerk_rating`).
    pub fn allow_clerk_rating(&mut self, allowed: bool) {
        self.clerk_rating = allowed;
    }

    /// This terminal's window.
    pub fn window_no(&self) -> WindowNo {
        self.window
    }

    /// What the keyboard is doing.
    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// The last answer.
    pub fn feedback(&self) -> Option<&Feedback> {
        self.feedback.as_ref()
    }

    /// The window as last seen.
    pub fn window(&self) -> Option<&WindowView> {
        self.status
            .as_ref()
            .and_then(|s| s.view.windows.iter().find(|w| w.number == self.window))
    }

    /// One key press; what to do about it, if anything.
    pub fn key(&mut self, key: KeyEvent) -> Option<Intent> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Some(Intent::Quit);
        }
        let mode = std::mem::replace(&mut self.mode, Mode::Keys);
        let intent = self.mode_key(mode, key.code);
        if self.sending.is_some() && matches!(intent, Some(Intent::Act(_) | Intent::Reinstate(_))) {
            // One action at a time: the first may still be carried out.
            let text = self
                .t(
                    "上一操作仍在发送中，请稍候",
                    "the last action is still on its way: wait",
                )
                .to_owned();
            self.say(false, text);
            return None;
        }
        intent
    }

    fn mode_key(&mut self, mode: Mode, code: KeyCode) -> Option<Intent> {
        let key = KeyEvent::from(code);
        match mode {
            Mode::Keys => self.single_key(key.code),
            Mode::Rating => match key.code {
                KeyCode::Char(c @ '1'..='5') => {
                    let rating = c.to_digit(10).and_then(|d| u8::try_from(d).ok());
                    let rating = rating.and_then(|r| Rating::new(r).ok());
                    Some(Intent::Act(WindowAction::Finish { rating }))
                }
                KeyCode::Enter | KeyCode::Char('0') => {
                    Some(Intent::Act(WindowAction::Finish { rating: None }))
                }
                KeyCode::Esc => None,
                _ => {
                    self.mode = Mode::Rating;
                    None
                }
            },
            Mode::ConfirmClose => match key.code {
                KeyCode::Char('y' | 'Y') => Some(Intent::Act(WindowAction::Close)),
                _ => {
                    self.say(true, self.t("未关窗", "not closed").into());
                    None
                }
            },
            Mode::ConfirmNoShow => match key.code {
                KeyCode::Char('y' | 'Y') => Some(Intent::Act(WindowAction::NoShow)),
                _ => {
                    self.say(true, self.t("未过号", "no no-show recorded").into());
                    None
                }
            },
            Mode::ConfirmLogout => match key.code {
                KeyCode::Char('y' | 'Y') => Some(Intent::Act(WindowAction::Logout)),
                _ => {
                    self.say(true, self.t("未退出登录", "still logged in").into());
                    None
                }
            },
            Mode::Reinstate(text) => {
                let lang = self.lang;
                self.prompt(key.code, text, Mode::Reinstate, |text| {
                    parse_ticket(text, lang).map(Intent::Reinstate)
                })
            }
            Mode::Login(text) => {
                let lang = self.lang;
                self.prompt(key.code, text, Mode::Login, |text| {
                    login(text, lang).map(Intent::Act)
                })
            }
            Mode::Transfer(text) => {
                let lang = self.lang;
                self.prompt(key.code, text, Mode::Transfer, |text| {
                    transfer_target(text, lang).map(|to| Intent::Act(WindowAction::Transfer { to }))
                })
            }
            Mode::Pause(text) => self.prompt(key.code, text, Mode::Pause, |text| {
                let reason = text.trim();
                Ok(Intent::Act(WindowAction::Pause {
                    reason: if reason.is_empty() {
                        DEFAULT_PAUSE_REASON.into()
                    } else {
                        reason.to_owned()
                    },
                }))
            }),
            Mode::CallTicket(text) => {
                let lang = self.lang;
                self.prompt(key.code, text, Mode::CallTicket, |text| {
                    let ticket = parse_ticket(text, lang)?;
                    Ok(Intent::Act(WindowAction::Call {
                        ticket: Some(ticket),
                    }))
                })
            }
        }
    }

    fn single_key(&mut self, code: KeyCode) -> Option<Intent> {
        let act = |action| Some(Intent::Act(action));
        let KeyCode::Char(c) = code else {
            return match code {
                KeyCode::Enter => act(WindowAction::Call { ticket: None }),
                KeyCode::Esc => Some(Intent::Quit),
                KeyCode::F(5) => Some(Intent::Refresh),
                _ => None,
            };
        };
        match c.to_ascii_lowercase() {
            'n' => act(WindowAction::Call { ticket: None }),
            'r' => act(WindowAction::Recall),
            's' => act(WindowAction::Start),
            'x' => {
                self.mode = Mode::ConfirmNoShow;
                None
            }
            'b' => {
                self.mode = Mode::Reinstate(String::new());
                None
            }
            'l' => {
                // One key for both, as `p`: logged in logs out, else in.
                if self.window().is_some_and(|w| w.staff.is_some()) {
                    self.mode = Mode::ConfirmLogout;
                } else {
                    self.mode = Mode::Login(String::new());
                }
                None
            }
            'o' => act(WindowAction::Open),
            'u' => Some(Intent::Refresh),
            'q' => Some(Intent::Quit),
            'f' if self.clerk_rating => {
                self.mode = Mode::Rating;
                None
            }
            'f' => act(WindowAction::Finish { rating: None }),
            't' => {
                self.mode = Mode::Transfer(String::new());
                None
            }
            'g' => {
                self.mode = Mode::CallTicket(String::new());
                None
            }
            'c' => {
                self.mode = Mode::ConfirmClose;
                None
            }
            'p' => {
                // One key for both: a paused window resumes, any other pauses.
                if self
                    .window()
                    .is_some_and(|w| matches!(w.state, WindowState::Paused(_)))
                {
                    act(WindowAction::Resume)
                } else {
                    self.mode = Mode::Pause(String::new());
                    None
                }
            }
            _ => None,
        }
    }

    /// Typing into a prompt: Enter submits, Esc cancels, a bad entry keeps
    /// the prompt open with the reason.
    fn prompt(
        &mut self,
        code: KeyCode,
        mut text: String,
        again: fn(String) -> Mode,
        submit: impl FnOnce(&str) -> Result<Intent, String>,
    ) -> Option<Intent> {
        match code {
            KeyCode::Esc => return None,
            KeyCode::Enter => match submit(&text) {
                Ok(intent) => return Some(intent),
                Err(why) => self.say(false, why),
            },
            KeyCode::Backspace => {
                text.pop();
            }
            // Enough for a reason like "系统故障，请到3号窗口"; keeps a stuck key harmless.
            KeyCode::Char(c) if text.chars().count() < 40 => text.push(c),
            _ => {}
        }
        self.mode = again(text);
        None
    }

    fn say(&mut self, ok: bool, text: String) {
        self.feedback = Some(Feedback {
            ok,
            text,
            link: false,
        });
    }

    /// A failure, told from its code; one that says the link is broken is
    /// marked so that it goes once the link is back.
    fn failed(&mut self, what: &str, e: &ClientError, now: Timestamp) {
        let why = text::client_error(e, self.lang);
        let text = match self.lang {
            Lang::Zh => format!("✘ {what}未成功：{why}"),
            Lang::En => format!("✘ {what} failed: {why}"),
        };
        self.feedback = Some(Feedback {
            ok: false,
            text,
            link: run::link_broken(e),
        });
        self.note_link(Err(e), now);
    }

    /// The daemon's answer to a reinstatement (过号恢复).
    pub fn reinstated(&mut self, result: Result<Response, ClientError>, now: Timestamp) {
        self.sending = None;
        let what = text::action_name("reinstate", self.lang);
        match result {
            Ok(Response::Reinstated { ticket, position }) => {
                self.note_link(Ok(()), now);
                let text = match self.lang {
                    Lang::Zh => format!("✔ {what} {ticket}：已回到队列，前面 {position} 人"),
                    Lang::En => format!("✔ {what} {ticket}: back in line, {position} ahead"),
                };
                self.say(true, text);
            }
            Ok(_) => {
                self.note_link(Ok(()), now);
                let text = self.t("✘ 意外的应答", "✘ unexpected answer").to_owned();
                self.say(false, text);
            }
            Err(e) => self.failed(what, &e, now),
        }
    }

    /// The daemon's answer to `action`.
    pub fn acted(
        &mut self,
        action: &WindowAction,
        result: Result<Response, ClientError>,
        now: Timestamp,
    ) {
        self.sending = None;
        let label = text::action(action, self.lang);
        match result {
            Ok(Response::Window {
                ticket,
                announcement,
                window,
                ..
            }) => {
                self.note_link(Ok(()), now);
                let colon = self.t("：", ": ");
                let text = match (announcement, ticket) {
                    // The announcement is what the hall hears (§7.3.6): as is.
                    (Some(words), _) => format!("{label}{colon}{words}"),
                    (None, Some(t)) => format!("{label} {t}"),
                    (None, None) => label.to_owned(),
                };
                self.say(true, format!("✔ {text}"));
                self.note_window(window, now);
            }
            Ok(_) => {
                self.note_link(Ok(()), now);
                let text = self.t("✘ 意外的应答", "✘ unexpected answer").to_owned();
                self.say(false, text);
            }
            Err(e) => {
                let mut why = text::client_error(&e, self.lang);
                // What the terminal knows itself makes a refusal concrete.
                if e.code() == hallq_proto::ErrorCode::WindowBusy {
                    if let Some(t) = self.window().and_then(|w| w.current) {
                        why = match self.lang {
                            Lang::Zh => format!("当前号 {t} 尚未处理完：请先办结、过号或转办"),
                            Lang::En => format!(
                                "{t} is still current: finish it, mark it a no-show or transfer it first"
                            ),
                        };
                    }
                }
                self.failed(label, &e, now);
                if let Some(f) = self.feedback.as_mut() {
                    f.text = match self.lang {
                        Lang::Zh => format!("✘ {label}未成功：{why}"),
                        Lang::En => format!("✘ {label} failed: {why}"),
                    };
                }
            }
        }
    }

    /// A fresh `status`: the queue and every window.
    pub fn refreshed(&mut self, result: Result<Status, ClientError>, now: Timestamp) {
        match result {
            Ok(status) => {
                self.note_link(Ok(()), now);
                for t in &status.waiting {
                    self.seen.insert(t.ticket, (t.ticket.item, t.lane));
                }
                self.hall_name.clone_from(&status.hall_name);
                let mine = status
                    .view
                    .windows
                    .iter()
                    .find(|w| w.number == self.window)
                    .cloned();
                self.status = Some(status);
                if let Some(w) = mine {
                    self.note_window(w, now);
                }
                self.refreshed_at = Some(now);
            }
            // Keep showing what we had, but say that it is not current.
            Err(e) => {
                // An action's answer (or refusal) stays on the status line;
                // the header already says the link is down.
                if self.feedback.as_ref().is_some_and(|f| !f.ok) && run::link_broken(&e) {
                    self.note_link(Err(&e), now);
                } else {
                    let what = self.t("刷新", "refresh");
                    self.failed(what, &e, now);
                }
            }
        }
    }

    /// Takes in this window's new state, restarting the timer when the
    /// current ticket or its serving state changed.
    fn note_window(&mut self, window: WindowView, now: Timestamp) {
        let key = window.current.map(|t| (t, window.serving));
        match (key, self.since) {
            (Some((t, serving)), Some((t0, s0, _))) if t == t0 && serving == s0 => {}
            (Some((t, serving)), _) => self.since = Some((t, serving, now)),
            (None, _) => self.since = None,
        }
        if let Some(status) = self.status.as_mut() {
            match status
                .view
                .windows
                .iter_mut()
                .find(|w| w.number == self.window)
            {
                Some(slot) => *slot = window,
                None => status.view.windows.push(window),
            }
        }
    }

    /// The waiting tickets this window may call, in about the order it will
    /// call them: referred here first, then lane, then first come.
    pub fn queue(&self) -> Vec<&WaitingTicket> {
        let (Some(status), Some(me)) = (self.status.as_ref(), self.window()) else {
            return Vec::new();
        };
        let mut queue: Vec<&WaitingTicket> = status
            .waiting
            .iter()
            .filter(|t| match t.for_window {
                Some(w) => w == self.window,
                None => {
                    me.universal
                        || me.items.contains(&t.ticket.item)
                        // 兜底窗口: green-channel tickets of any item.
                        || (me.fallback && t.lane == Lane::Priority(PriorityReason::Green))
                }
            })
            .collect();
        queue.sort_by_key(|t| (t.for_window.is_none(), t.lane.rank(), t.waiting_since));
        queue
    }

    fn item_name(&self, code: ItemCode) -> String {
        self.status
            .as_ref()
            .and_then(|s| s.view.items.iter().find(|i| i.code == code))
            .map_or_else(|| code.to_string(), |i| i.name.clone())
    }

    /// Draws the whole screen for instant `now`.
    pub fn draw(&self, frame: &mut Frame, now: Timestamp) {
        let [head, current, queue, feedback, keys] = Layout::vertical([
            Constraint::Length(3),
            Constraint::Length(4),
            Constraint::Min(4),
            Constraint::Length(1),
            Constraint::Length(2),
        ])
        .areas(frame.area());
        self.draw_head(frame, head, now);
        self.draw_current(frame, current, now);
        self.draw_queue(frame, queue, now);
        if let Some(what) = &self.sending {
            let text = match self.lang {
                Lang::Zh => format!("… {what} 发送中…"),
                Lang::En => format!("… {what}: sending…"),
            };
            frame.render_widget(
                Paragraph::new(text).style(Style::new().fg(Color::Yellow).bold()),
                feedback,
            );
        } else if let Some(f) = &self.feedback {
            let color = if f.ok { Color::Green } else { Color::Red };
            frame.render_widget(
                Paragraph::new(f.text.as_str()).style(Style::new().fg(color).bold()),
                feedback,
            );
        }
        frame.render_widget(Paragraph::new(self.key_help()), keys);
    }

    fn draw_head(&self, frame: &mut Frame, area: Rect, now: Timestamp) {
        let zh = self.lang == Lang::Zh;
        let (state, color) = match (self.link, self.window().map(|w| &w.state)) {
            // The window's last known state is not what it is now: say so
            // rather than 开放 (issue 17).
            (Link::Down(since), _) => {
                let secs = now.secs_since(since);
                let text = if zh {
                    format!("⚠ 连不上 hallqd（{}）· 状态未知", duration(secs))
                } else {
                    format!("⚠ hallqd unreachable ({}) · state unknown", duration(secs))
                };
                (text, Color::Red)
            }
            (_, Some(WindowState::Open)) => (self.t("开放", "open").to_owned(), Color::Green),
            (_, Some(WindowState::Paused(reason))) => (
                if zh {
                    format!("暂停服务（{reason}）")
                } else {
                    format!("paused ({reason})")
                },
                Color::Red,
            ),
            (_, Some(WindowState::Closed)) => {
                (self.t("未开放", "closed").to_owned(), Color::DarkGray)
            }
            (_, None) => ("…".to_owned(), Color::DarkGray),
        };
        let title = if zh {
            format!("{}号窗口", self.window)
        } else {
            format!("Window {}", self.window)
        };
        let mut spans = vec![
            Span::styled(title, Style::new().bold()),
            Span::raw("  "),
            Span::styled(state, Style::new().fg(color).bold()),
        ];
        match self.window().and_then(|w| w.staff.as_ref()) {
            Some((staff, post)) => {
                let post = text::post(*post, self.lang);
                spans.push(Span::raw(if zh {
                    format!("  工作人员 {staff}（{post}）")
                } else {
                    format!("  staff {staff} ({post})")
                }));
            }
            None if self.window().is_some() => spans.push(Span::styled(
                self.t("  未登录（按 l 登录）", "  nobody logged in (l to log in)"),
                Style::new().fg(Color::DarkGray),
            )),
            None => {}
        }
        let block = Block::new()
            .borders(Borders::ALL)
            .title(format!(" {} ", self.hall_name))
            .title(Line::from(format!(" {} ", clock(now))).right_aligned());
        frame.render_widget(Paragraph::new(Line::from(spans)).block(block), area);
    }

    fn draw_current(&self, frame: &mut Frame, area: Rect, now: Timestamp) {
        let big = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
        let current = self.t("当前  ", "current  ");
        let line = match (self.window().and_then(|w| w.current), self.since) {
            (Some(t), since) => {
                let mut spans = vec![Span::raw(current), Span::styled(t.to_string(), big)];
                // Item and lane: what the clerk needs before the visitor
                // sits down (a transferred ticket's item is its new one).
                let (item, lane) = self.seen.get(&t).copied().unzip();
                let item = item.unwrap_or(t.item);
                spans.push(Span::raw(format!("  {}", self.item_name(item))));
                if let Some(lane) = lane {
                    spans.push(Span::raw(format!(" · {}", text::lane(lane, self.lang))));
                }
                if let Some((_, serving, since)) = since {
                    let (what, color) = if serving {
                        (self.t("正在办理", "serving"), Color::Green)
                    } else {
                        (
                            self.t("已叫号，等待到窗", "called, not here yet"),
                            Color::Yellow,
                        )
                    };
                    spans.push(Span::raw("  "));
                    spans.push(Span::styled(what, Style::new().fg(color)));
                    spans.push(Span::raw(format!("  {}", duration(now.secs_since(since)))));
                }
                Line::from(spans)
            }
            (None, _) => Line::from(self.t(
                "当前  无 —— 按 n 叫下一位",
                "current  none: n calls the next",
            )),
        };
        let block = Block::new()
            .borders(Borders::ALL)
            .title(self.t(" 当前号码 ", " Current ticket "));
        frame.render_widget(Paragraph::new(line).block(block), area);
    }

    fn draw_queue(&self, frame: &mut Frame, area: Rect, now: Timestamp) {
        let queue = self.queue();
        let items = match self.window() {
            Some(w) if w.universal => self.t("全部事项", "every item").to_owned(),
            Some(w) => {
                let mut names: Vec<String> = w
                    .items
                    .iter()
                    .map(|c| format!("{}{c}", self.item_name(*c)))
                    .collect();
                if w.fallback {
                    names.push(self.t("绿色通道", "green channel").into());
                }
                names.join(" ")
            }
            None => String::new(),
        };
        let title = match self.lang {
            Lang::Zh => format!(" 排队 {} 人 · {items} ", queue.len()),
            Lang::En => format!(" {} waiting · {items} ", queue.len()),
        };
        let rows = queue.iter().map(|t| {
            Row::new(vec![
                t.ticket.to_string(),
                self.item_name(t.ticket.item),
                lane_label(t.lane, t.for_window.is_some(), self.lang),
                t.position.to_string(),
                duration(now.secs_since(t.waiting_since)),
            ])
        });
        let table = Table::new(
            rows,
            [
                Constraint::Length(7),
                Constraint::Length(12),
                Constraint::Length(14),
                Constraint::Length(6),
                Constraint::Length(8),
            ],
        )
        .header(
            Row::new(match self.lang {
                Lang::Zh => vec!["号码", "事项", "通道", "前面", "已等"],
                Lang::En => vec!["ticket", "item", "lane", "ahead", "waited"],
            })
            .style(Style::new().bold()),
        )
        .block(Block::new().borders(Borders::ALL).title(title));
        frame.render_widget(table, area);
    }

    fn key_help(&self) -> Vec<Line<'static>> {
        let hint = Style::new().fg(Color::Cyan).bold();
        let zh = self.lang == Lang::Zh;
        let two = |a: String, b: String| vec![Line::styled(a, hint), Line::from(b)];
        let pick = |z: &str, e: &str| if zh { z.to_owned() } else { e.to_owned() };
        match &self.mode {
            Mode::Keys => vec![
                Line::from(pick(
                    "[n]叫号 [g]指定叫号 [r]重呼 [s]开始办理 [f]办结 [x]过号 [b]过号恢复 [t]转办",
                    "[n]call [g]call number [r]recall [s]start [f]finish [x]no-show [b]reinstate [t]transfer",
                )),
                Line::from(pick(
                    "[p]暂停/恢复 [l]登录/退出 [o]开窗 [c]关窗 [u]刷新 [q]退出",
                    "[p]pause/resume [l]log in/out [o]open [c]close [u]refresh [q]quit",
                )),
            ],
            Mode::Rating => two(
                pick(
                    "评价：5 非常满意 4 满意 3 基本满意 2 不满意 1 非常不满意",
                    "rating: 5 very satisfied 4 satisfied 3 fairly 2 dissatisfied 1 very dissatisfied",
                ),
                pick("Enter 不评价直接办结 · Esc 取消", "Enter finishes unrated · Esc cancels"),
            ),
            Mode::Transfer(text) => two(
                format!("{}{text}▏", pick("转办到：", "transfer to: ")),
                pick(
                    "输入事项字母（如 B）或窗口号（如 3），Enter 确认 · Esc 取消",
                    "an item letter (B) or a window number (3), Enter · Esc cancels",
                ),
            ),
            Mode::Pause(text) => two(
                format!("{}{text}▏", pick("暂停原因：", "pause reason: ")),
                if zh {
                    format!("Enter 确认（不填则显示“{DEFAULT_PAUSE_REASON}”）· Esc 取消")
                } else {
                    format!("Enter (none: \"{DEFAULT_PAUSE_REASON}\") · Esc cancels")
                },
            ),
            Mode::CallTicket(text) => two(
                format!("{}{text}▏", pick("叫号码：", "call number: ")),
                pick(
                    "输入号码（如 A012），Enter 确认 · Esc 取消",
                    "a number like A012, Enter · Esc cancels",
                ),
            ),
            Mode::Reinstate(text) => two(
                format!("{}{text}▏", pick("过号恢复号码：", "reinstate number: ")),
                pick(
                    "输入过号的号码（如 A003），Enter 确认 · Esc 取消",
                    "the no-show's number (A003), Enter · Esc cancels",
                ),
            ),
            Mode::Login(text) => two(
                format!("{}{text}▏", pick("登录 工号 岗位：", "log in, staff id and post: ")),
                pick(
                    "如 S1002 A（A岗）或 S1002 B（B岗），Enter 确认 · Esc 取消",
                    "like S1002 A (post A) or S1002 B, Enter · Esc cancels",
                ),
            ),
            Mode::ConfirmClose => two(
                pick("确认关窗？按 y 关窗，其他键取消", "close the window? y closes, any other key cancels"),
                String::new(),
            ),
            Mode::ConfirmNoShow => {
                let t = self.window().and_then(|w| w.current);
                let t = t.map_or(String::new(), |t| t.to_string());
                two(
                    if zh {
                        format!("确认 {t} 过号？按 y 过号，其他键取消")
                    } else {
                        format!("mark {t} a no-show? y confirms, any other key cancels")
                    },
                    pick(
                        "过号后可按 b 恢复（回到队列后几位）",
                        "b reinstates a no-show later (a few places back)",
                    ),
                )
            }
            Mode::ConfirmLogout => two(
                pick("确认退出登录？按 y 退出，其他键取消", "log out? y confirms, any other key cancels"),
                String::new(),
            ),
        }
    }
}

/// A ticket number typed by the clerk, `a012` as well as `A012`.
fn parse_ticket(text: &str, lang: Lang) -> Result<TicketNo, String> {
    text.trim()
        .to_ascii_uppercase()
        .parse::<TicketNo>()
        .map_err(|_| match lang {
            Lang::Zh => format!("号码应形如 A012，不是 “{}”", text.trim()),
            Lang::En => format!("a number looks like A012, not \"{}\"", text.trim()),
        })
}

/// `S1002 A`: 工号, then the post (A when left out).
fn login(text: &str, lang: Lang) -> Result<WindowAction, String> {
    let mut words = text.split_whitespace();
    let bad = || match lang {
        Lang::Zh => format!("应为 工号 岗位，如 S1002 A，不是 “{}”", text.trim()),
        Lang::En => format!("a staff id and post like S1002 A, not \"{}\"", text.trim()),
    };
    let staff = words
        .next()
        .and_then(|id| StaffId::new(id).ok())
        .ok_or_else(bad)?;
    let post = match words.next().map(str::to_ascii_uppercase).as_deref() {
        None | Some("A") => Post::A,
        Some("B") => Post::B,
        Some(_) => return Err(bad()),
    };
    if words.next().is_some() {
        return Err(bad());
    }
    Ok(WindowAction::Login { staff, post })
}

/// `B` is an item's line, `3` a window.
fn transfer_target(text: &str, lang: Lang) -> Result<Target, String> {
    let text = text.trim();
    if let Ok(n) = text.parse::<u16>() {
        if n >= 1 {
            return Ok(Target::Window(WindowNo(n)));
        }
    }
    text.to_ascii_uppercase()
        .parse::<ItemCode>()
        .map(Target::Item)
        .map_err(|_| match lang {
            Lang::Zh => format!("转办目标应为事项字母（如 B）或窗口号（如 3），不是 “{text}”"),
            Lang::En => {
                format!("a transfer goes to an item letter (B) or a window (3), not \"{text}\"")
            }
        })
}

fn lane_label(lane: Lane, referred: bool, lang: Lang) -> String {
    let lane = text::lane(lane, lang);
    match (referred, lang) {
        (false, _) => lane.to_owned(),
        (true, Lang::Zh) => format!("{lane}·转入"),
        (true, Lang::En) => format!("{lane}, referred"),
    }
}

/// `mm:ss`, or `h:mm:ss` past an hour.
fn duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

#[cfg(test)]
mod tests;
