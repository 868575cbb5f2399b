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
//! | `x` | no-show (过号) |
//! | `t` | transfer to an item (`B`) or a window (`3`) (转办) |
//! | `p` | pause with a reason (暂停), or resume a paused window |
//! | `o` / `c` | open / close the window (close asks `y`) |
//! | `u` | refresh now |
//! | `q`, Esc | quit |

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
use hallq_proto::types::{ItemCode, Lane, PriorityReason, Rating, TicketNo, Timestamp, WindowNo};
use hallq_proto::views::{WaitingTicket, WindowState, WindowView};
use hallq_proto::wire::{Response, Status, Target, Welcome, WindowAction};

/// What `pause` shows visitors when the clerk gives no reason.
pub const DEFAULT_PAUSE_REASON: &str = "暂停服务";

/// What the clerk asked for with a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// Send this action for this window.
    Act(WindowAction),
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
}

/// The last answer, shown until the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    /// Whether it went through.
    pub ok: bool,
    /// For the clerk.
    pub text: String,
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
        })
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
                    self.say(true, "未关窗".into());
                    None
                }
            },
            Mode::Transfer(text) => self.prompt(key.code, text, Mode::Transfer, |text| {
                transfer_target(text).map(|to| WindowAction::Transfer { to })
            }),
            Mode::Pause(text) => self.prompt(key.code, text, Mode::Pause, |text| {
                let reason = text.trim();
                Ok(WindowAction::Pause {
                    reason: if reason.is_empty() {
                        DEFAULT_PAUSE_REASON.into()
                    } else {
                        reason.to_owned()
                    },
                })
            }),
            Mode::CallTicket(text) => self.prompt(key.code, text, Mode::CallTicket, |text| {
                let ticket = text
                    .trim()
                    .to_ascii_uppercase()
                    .parse::<TicketNo>()
                    .map_err(|_| format!("号码应形如 A012，不是 “{}”", text.trim()))?;
                Ok(WindowAction::Call {
                    ticket: Some(ticket),
                })
            }),
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
            'x' => act(WindowAction::NoShow),
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
        submit: impl FnOnce(&str) -> Result<WindowAction, String>,
    ) -> Option<Intent> {
        match code {
            KeyCode::Esc => return None,
            KeyCode::Enter => match submit(&text) {
                Ok(action) => return Some(Intent::Act(action)),
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
        self.feedback = Some(Feedback { ok, text });
    }

    /// The daemon's answer to `action`.
    pub fn acted(
        &mut self,
        action: &WindowAction,
        result: Result<Response, ClientError>,
        now: Timestamp,
    ) {
        match result {
            Ok(Response::Window {
                ticket,
                announcement,
                window,
                ..
            }) => {
                let text = match (announcement, ticket) {
                    (Some(words), _) => format!("{}：{words}", action_label(action)),
                    (None, Some(t)) => format!("{} {t}", action_label(action)),
                    (None, None) => action_label(action).to_owned(),
                };
                self.say(true, format!("✔ {text}"));
                self.note_window(window, now);
            }
            Ok(other) => self.say(false, format!("✘ 意外的应答：{other:?}")),
            Err(e) => self.say(false, format!("✘ {}未成功：{}", action_label(action), e)),
        }
    }

    /// A fresh `status`: the queue and every window.
    pub fn refreshed(&mut self, result: Result<Status, ClientError>, now: Timestamp) {
        match result {
            Ok(status) => {
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
            Err(e) => self.say(false, format!("✘ 无法刷新：{e}")),
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
        if let Some(f) = &self.feedback {
            let color = if f.ok { Color::Green } else { Color::Red };
            frame.render_widget(
                Paragraph::new(f.text.as_str()).style(Style::new().fg(color).bold()),
                feedback,
            );
        }
        frame.render_widget(Paragraph::new(self.key_help()), keys);
    }

    fn draw_head(&self, frame: &mut Frame, area: Rect, now: Timestamp) {
        let (state, color) = match self.window().map(|w| &w.state) {
            Some(WindowState::Open) => ("开放".to_owned(), Color::Green),
            Some(WindowState::Paused(reason)) => (format!("暂停服务（{reason}）"), Color::Red),
            Some(WindowState::Closed) => ("未开放".to_owned(), Color::DarkGray),
            None => ("…".to_owned(), Color::DarkGray),
        };
        let mut spans = vec![
            Span::styled(format!("{}号窗口", self.window), Style::new().bold()),
            Span::raw("  "),
            Span::styled(state, Style::new().fg(color).bold()),
        ];
        if let Some((staff, post)) = self.window().and_then(|w| w.staff.as_ref()) {
            let post = match post {
                hallq_proto::types::Post::A => "A岗",
                hallq_proto::types::Post::B => "B岗",
            };
            spans.push(Span::raw(format!("  工作人员 {staff}（{post}）")));
        }
        let block = Block::new()
            .borders(Borders::ALL)
            .title(format!(" {} ", self.hall_name))
            .title(Line::from(format!(" {} ", clock(now))).right_aligned());
        frame.render_widget(Paragraph::new(Line::from(spans)).block(block), area);
    }

    fn draw_current(&self, frame: &mut Frame, area: Rect, now: Timestamp) {
        let big = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
        let line = match (self.window().and_then(|w| w.current), self.since) {
            (Some(t), Some((_, serving, since))) => {
                let (what, color) = if serving {
                    ("正在办理", Color::Green)
                } else {
                    ("已叫号，等待到窗", Color::Yellow)
                };
                Line::from(vec![
                    Span::raw("当前  "),
                    Span::styled(t.to_string(), big),
                    Span::raw("  "),
                    Span::styled(what, Style::new().fg(color)),
                    Span::raw(format!("  {}", duration(now.secs_since(since)))),
                ])
            }
            (Some(t), None) => {
                Line::from(vec![Span::raw("当前  "), Span::styled(t.to_string(), big)])
            }
            (None, _) => Line::from("当前  无 —— 按 n 叫下一位"),
        };
        let block = Block::new().borders(Borders::ALL).title(" 当前号码 ");
        frame.render_widget(Paragraph::new(line).block(block), area);
    }

    fn draw_queue(&self, frame: &mut Frame, area: Rect, now: Timestamp) {
        let queue = self.queue();
        let items = match self.window() {
            Some(w) if w.universal => "全部事项".to_owned(),
            Some(w) => {
                let mut names: Vec<String> = w
                    .items
                    .iter()
                    .map(|c| format!("{}{c}", self.item_name(*c)))
                    .collect();
                if w.fallback {
                    names.push("绿色通道".into());
                }
                names.join(" ")
            }
            None => String::new(),
        };
        let title = format!(" 排队 {} 人 · {items} ", queue.len());
        let rows = queue.iter().map(|t| {
            Row::new(vec![
                t.ticket.to_string(),
                self.item_name(t.ticket.item),
                lane_label(t.lane, t.for_window.is_some()),
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
        .header(Row::new(vec!["号码", "事项", "通道", "前面", "已等"]).style(Style::new().bold()))
        .block(Block::new().borders(Borders::ALL).title(title));
        frame.render_widget(table, area);
    }

    fn key_help(&self) -> Vec<Line<'static>> {
        let hint = Style::new().fg(Color::Cyan).bold();
        match &self.mode {
            Mode::Keys => vec![
                Line::from("[n]叫号 [g]指定叫号 [r]重呼 [s]开始办理 [f]办结 [x]过号 [t]转办"),
                Line::from("[p]暂停/恢复 [o]开窗 [c]关窗 [u]刷新 [q]退出"),
            ],
            Mode::Rating => vec![
                Line::styled(
                    "评价：5 非常满意 4 满意 3 基本满意 2 不满意 1 非常不满意",
                    hint,
                ),
                Line::from("Enter 不评价直接办结 · Esc 取消"),
            ],
            Mode::Transfer(text) => vec![
                Line::styled(format!("转办到：{text}▏"), hint),
                Line::from("输入事项字母（如 B）或窗口号（如 3），Enter 确认 · Esc 取消"),
            ],
            Mode::Pause(text) => vec![
                Line::styled(format!("暂停原因：{text}▏"), hint),
                Line::from(format!(
                    "Enter 确认（不填则显示“{DEFAULT_PAUSE_REASON}”）· Esc 取消"
                )),
            ],
            Mode::CallTicket(text) => vec![
                Line::styled(format!("叫号码：{text}▏"), hint),
                Line::from("输入号码（如 A012），Enter 确认 · Esc 取消"),
            ],
            Mode::ConfirmClose => vec![
                Line::styled("确认关窗？按 y 关窗，其他键取消", hint),
                Line::from(""),
            ],
        }
    }
}

/// `B` is an item's line, `3` a window.
fn transfer_target(text: &str) -> Result<Target, String> {
    let text = text.trim();
    if let Ok(n) = text.parse::<u16>() {
        if n >= 1 {
            return Ok(Target::Window(WindowNo(n)));
        }
    }
    text.to_ascii_uppercase()
        .parse::<ItemCode>()
        .map(Target::Item)
        .map_err(|_| format!("转办目标应为事项字母（如 B）或窗口号（如 3），不是 “{text}”"))
}

/// The action's name at the counter.
fn action_label(action: &WindowAction) -> &'static str {
    match action {
        WindowAction::Call { .. } => "叫号",
        WindowAction::Recall => "重呼",
        WindowAction::Start => "开始办理",
        WindowAction::Finish { .. } | WindowAction::FinishBatch { .. } => "办结",
        WindowAction::NoShow => "过号",
        WindowAction::Transfer { .. } => "转办",
        WindowAction::Pause { .. } => "暂停",
        WindowAction::Resume => "恢复办理",
        WindowAction::Open => "开窗",
        WindowAction::Close => "关窗",
        WindowAction::Login { .. } => "登录",
        WindowAction::Logout => "退出登录",
    }
}

fn lane_label(lane: Lane, referred: bool) -> String {
    let lane = match lane {
        Lane::Appointment => "预约".to_owned(),
        Lane::Priority(PriorityReason::Elderly) => "优先·老人".into(),
        Lane::Priority(PriorityReason::Disabled) => "优先·残疾人".into(),
        Lane::Priority(PriorityReason::Pregnant) => "优先·孕妇".into(),
        Lane::Priority(PriorityReason::Green) => "绿色通道".into(),
        Lane::WalkIn => "普通".into(),
    };
    if referred {
        format!("{lane}·转入")
    } else {
        lane
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
