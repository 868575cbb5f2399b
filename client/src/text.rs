//! The message catalogue: every text a person reads on the client side
//! (window terminal, board TUI, `hallq`'s human output), in Chinese by
//! default and in English with `--lang en` (or `HALLQ_LANG=en`).
//!
//! A refusal's text is made here from its [`ErrorCode`] (and what the
//! client itself knows: the window, the ticket it asked about), never from
//! the daemon's English `message` or a debug print: the code is the
//! contract (SPEC §5, ARCHITECTURE "Errors"), the message is for logs.
//! `--json` output does not go through this module and stays as it is.
//!
//! Add a code in `hallq_proto::code` and the `match` in [`error`] stops
//! compiling until both texts are written; a test checks every known code
//! has a Chinese and an English text.

use std::sync::atomic::{AtomicU8, Ordering};

use hallq_proto::types::{Lane, Post, PriorityReason};
use hallq_proto::wire::WindowAction;
use hallq_proto::ErrorCode;

use crate::client::ClientError;

/// The language of the texts people read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// 中文, the default: a hall's staff and visitors read Chinese.
    #[default]
    Zh,
    /// English, with `--lang en`.
    En,
}

impl Lang {
    /// `zh` (also `zh-CN`, `cn`) or `en` (also `en-US`); anything else is
    /// not a language we have.
    pub fn from_name(name: &str) -> Option<Lang> {
        let name = name.trim().to_ascii_lowercase();
        match name.split(['-', '_']).next().unwrap_or_default() {
            "zh" | "cn" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// Picks the Chinese or the English text.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// The process's language: set once by `hallq` from `--lang`, read by the
/// screens. One process serves one person, so one setting is enough.
static LANG: AtomicU8 = AtomicU8::new(0);

/// Sets the process's language.
pub fn set_lang(lang: Lang) {
    LANG.store(lang as u8, Ordering::Relaxed);
}

/// The process's language (Chinese unless set otherwise).
pub fn lang() -> Lang {
    match LANG.load(Ordering::Relaxed) {
        1 => Lang::En,
        _ => Lang::Zh,
    }
}

/// What a refusal or failure with `code` means, for a person.
pub fn error(code: &ErrorCode, lang: Lang) -> &'static str {
    use ErrorCode as C;
    let (zh, en) = match code {
        C::BadRequest => ("请求格式不正确", "the request is not well formed"),
        C::Unauthorized => (
            "令牌无效，请检查 --token",
            "the token is not valid: check --token",
        ),
        C::Forbidden => ("此令牌无权执行该操作", "this token may not do that"),
        C::UnknownHall => ("hallqd 没有这个大厅", "hallqd has no such hall"),
        C::RateLimited => (
            "请求过于频繁，请稍后再试",
            "too many requests: try again shortly",
        ),
        C::TooManyConnections => (
            "hallqd 连接数已满，请稍后再试",
            "hallqd is at its connection limit: try again shortly",
        ),
        C::TooManyDisplays => (
            "本大厅显示屏数量已满",
            "the hall has as many displays as allowed",
        ),
        C::Internal => (
            "hallqd 内部错误，请联系管理员",
            "hallqd failed internally: tell the administrator",
        ),
        C::ReloadRefused => (
            "新配置不可用，未作任何改动",
            "the new configuration is unusable; nothing changed",
        ),
        C::JournalUnreadable => ("无法读取该日的记录", "the day's records cannot be read"),
        C::StorageFailed => (
            "记录未能保存，未作任何改动，请联系管理员",
            "the change could not be saved; nothing changed: tell the administrator",
        ),
        C::NotOwner => (
            "本大厅由另一台服务器负责，正在切换",
            "another node serves the hall; switching",
        ),
        C::ClusterUnavailable => (
            "集群暂不可用，操作可能未完成，请刷新确认",
            "the cluster did not confirm: refresh to see whether it was done",
        ),
        C::InvalidSpec => ("大厅配置有误", "the hall's configuration is invalid"),
        C::NoBusinessDay => (
            "大厅今天尚未开始营业",
            "the hall has not begun a business day",
        ),
        C::DayNotLater => (
            "新营业日须在当前营业日之后",
            "a new business day must come after the current one",
        ),
        C::UnknownItem => ("没有这个事项", "no such item"),
        C::UnknownWindow => ("没有这个窗口", "no such window"),
        C::UnknownTicket => ("今天没有这个号码", "no such ticket today"),
        C::DailyCapReached => (
            "该事项今日号源已发完",
            "the item's tickets for today are all issued",
        ),
        C::IssuingClosed => (
            "今日已停止取号，已取号的仍会办理",
            "issuing has stopped for today; everyone waiting will be served",
        ),
        C::WindowNotOpen => (
            "窗口暂停或未开放：请先开窗或恢复办理",
            "the window is paused or closed: open or resume it first",
        ),
        C::WindowAlready => ("窗口已是该状态", "the window is in that state already"),
        C::WindowBusy => (
            "当前号尚未处理完：请先办结、过号或转办",
            "the current ticket is not done: finish it, mark it a no-show or transfer it first",
        ),
        C::NoCurrentTicket => ("本窗口没有当前号", "the window has no current ticket"),
        C::NothingWaiting => (
            "本窗口的事项暂无人排队",
            "nobody is waiting for this window's items",
        ),
        C::WrongTicketState => (
            "该号码当前状态不允许此操作",
            "the ticket's state does not allow this",
        ),
        C::NotServedHere => (
            "本窗口不办理该号码的事项",
            "this window does not serve the ticket's item",
        ),
        C::SameLine => ("该号码已在此队列中", "the ticket is in that line already"),
        C::TargetClosed => ("目标窗口未开放，不能转入", "the target window is not open"),
        C::StaffAlreadyLoggedIn => (
            "已有工作人员登录，请先退出登录",
            "someone is logged in already: log out first",
        ),
        C::NoStaff => ("本窗口无人登录", "nobody is logged in at the window"),
        C::TooLong => ("输入内容过长", "the text is too long"),
        C::ReconfigureRefused => (
            "新配置会影响排队中的号码，暂不能生效",
            "the new configuration would strand waiting tickets",
        ),
        C::AlreadyRated => (
            "该次服务已评价（一次一评）",
            "the service was rated already (one rating per service)",
        ),
        C::NotServedAt => (
            "该号码不是本窗口办理的",
            "the ticket was not served at this window",
        ),
        C::NotInBatch => (
            "该号码不能并入本次批量办理",
            "the ticket cannot join this batch",
        ),
        C::HallClosed => ("大厅此时不营业", "the hall is closed at this hour"),
        C::NotBookable => ("该事项不接受预约", "the item takes no appointments"),
        C::NoSuchSlot => ("没有这个预约时段", "no such appointment slot"),
        C::SlotPast => ("该时段已开始或已过", "the slot has begun or passed"),
        C::SlotFull => ("该时段已约满", "the slot is fully booked"),
        C::BookingDayClosed => ("当天已停止预约", "appointments for that day are closed"),
        C::UnknownBooking => ("没有这个预约码", "no appointment has that booking code"),
        C::BookingNotActive => (
            "该预约已取消、已签到或已失效",
            "the booking was cancelled, checked in or forfeited",
        ),
        C::CheckInTooEarly => ("还未到签到时间", "check-in opens later"),
        C::CheckInOutsideHours => ("非营业时间不能签到", "check-in is outside the hall's hours"),
        C::HallCancelTooLate => (
            "距预约时段不足8小时，大厅不能取消",
            "less than 8 hours ahead: the hall may no longer cancel",
        ),
        C::BadSlotChange => ("时段调整不合理", "the slot change does not make sense"),
        C::BookingForfeited => (
            "超过预约时段30分钟，预约已失效",
            "more than 30 minutes late: the booking is forfeited",
        ),
        C::FrameTooLarge => ("数据过大", "the message is too large"),
        C::TruncatedFrame => ("数据不完整", "the message was cut off"),
        C::MalformedFrame => ("数据格式错误", "the message is malformed"),
        C::Io => ("与 hallqd 的连接出错", "the connection to hallqd failed"),
        C::ConnectionLost => (
            "与 hallqd 的连接已断开",
            "the connection to hallqd was lost",
        ),
        C::UnexpectedAnswer => ("hallqd 的应答不符", "hallqd answered something else"),
        C::Timeout => ("hallqd 未及时应答", "hallqd did not answer in time"),
        C::Unreachable => ("无法连接 hallqd", "hallqd cannot be reached"),
        C::CertFile => (
            "无法读取证书文件（--cert）",
            "the certificate file (--cert) cannot be read",
        ),
        C::CertMismatch => (
            "hallqd 的证书与本机保存的不符",
            "hallqd's certificate is not the pinned one",
        ),
        C::ProtocolMismatch => (
            "hallqd 版本不兼容",
            "hallqd speaks another protocol version",
        ),
        C::HandshakeFailed => (
            "与 hallqd 的加密握手失败",
            "the TLS handshake with hallqd failed",
        ),
        C::Socket => ("无法打开本机网络端口", "no local UDP socket"),
        C::TlsConfig => ("TLS 配置有误", "the TLS configuration is invalid"),
        C::Usage => ("命令行有误", "the command line is wrong"),
        C::Output => ("无法写出结果", "the output could not be written"),
        C::Bind => ("无法监听该地址", "the listening address could not be bound"),
        C::Board => ("显示屏出错", "the board's screen failed"),
        C::Terminal => ("窗口终端屏幕出错", "the window terminal's screen failed"),
        C::Kiosk => ("取号机服务出错", "the kiosk's web server failed"),
        C::BookingCodeTaken => ("预约码重复，请重试", "the booking code is taken: try again"),
        C::BookingProofMismatch => (
            "预约码与手机号后四位不符",
            "the booking code and phone digits do not match",
        ),
        C::BookingProofRequired => (
            "取消预约需要手机号后四位",
            "cancelling needs the phone's last four digits",
        ),
        C::PhoneBookingLimit => (
            "该手机号当天预约已达上限",
            "the phone has as many bookings that day as allowed",
        ),
        C::PhoneTicketLimit => (
            "该手机号已持有该事项的号码",
            "the phone holds as many tickets of the item as allowed",
        ),
        C::PhoneAlreadyGiven => (
            "该号码已登记手机号",
            "the ticket has a phone number already",
        ),
        C::NotMobileNumber => (
            "不是有效的手机号（11位，1开头）",
            "not a mainland mobile number (11 digits starting with 1)",
        ),
        C::LoginRequired => (
            "请先登录工作人员（按 l），再叫号",
            "log in first (key l), then call",
        ),
        C::NoShowTooSoon => (
            "叫号后等待时间未到（或未重呼），暂不能过号",
            "too soon after the call (or no recall yet) for a no-show",
        ),
        C::LinkInvalid => (
            "链接无效：请扫描取号单上的二维码",
            "this link is not valid: scan the QR code on your ticket",
        ),
        C::LinkExpired => (
            "链接已过期：号码只在取号当天有效",
            "this link has expired: a ticket is valid on its day only",
        ),
        C::AlreadySteppedBack => ("每张号只能延后一次", "a ticket may step back once only"),
        C::ClerkRatingOff => (
            "本厅由办事群众自行评价，窗口不能代评",
            "in this hall visitors rate the service themselves",
        ),
        C::VisitorPage => ("访客页面服务出错", "the visitor page's web server failed"),
        C::PlanInvalid => (
            "排班方案有误：窗口、事项或时段不存在或格式不对",
            "the staffing plan names an unknown window or item, or a bad time span",
        ),
        C::NoRecords => (
            "该日没有取号记录，也没有可用于预测的往周数据",
            "no arrivals on that day and no past weeks to forecast it from",
        ),
        C::RemoteTicketsOff => (
            "本厅暂未开通线上取号，请到大厅取号机取号",
            "this hall does not give numbers online; take one at the hall's kiosk",
        ),
        C::CodeRateLimited => (
            "获取验证码过于频繁，请几分钟后再试",
            "too many codes asked for lately; try again in a few minutes",
        ),
        C::CodeWrong => (
            "验证码不正确，请核对短信后重新输入",
            "the code is not right; check the SMS and type it again",
        ),
        C::CodeExpired => (
            "验证码已过期，请重新获取",
            "the code has expired; ask for a new one",
        ),
        C::CodeTriesUsed => (
            "验证码输错次数过多，请重新获取",
            "the code was typed wrong too many times; ask for a new one",
        ),
        C::UnknownWorkOrder => ("没有这个编号的差评工单", "no work order has that number"),
        C::WorkOrderState => (
            "该工单当前状态不允许此操作（已回访或已办结）",
            "the work order's state does not allow that (called back or closed already)",
        ),
        C::NoteRequired => (
            "请填写回访记录、处理结果或申诉理由",
            "a note (callback, outcome or appeal reason) is required",
        ),
        C::NotRated => (
            "该次服务没有评价，无法申诉",
            "that service has no rating to appeal",
        ),
        C::AlreadyAppealed => ("该评价已申诉复核过", "that rating was appealed already"),
        C::ChangeIdReused => (
            "操作编号与先前的操作不符，未执行（客户端程序有误）",
            "this change's id was used before for another change; nothing was done (a client bug)",
        ),
        C::ChangeIdExpired => (
            "重发的操作已过期，未再执行：请查看当前状态后再操作",
            "the resent change is too old to be checked; it was not done again: look at the status first",
        ),
        C::Other(_) => (
            "操作未成功（新版本的原因代码）",
            "refused (a reason this version does not know)",
        ),
    };
    lang.pick(zh, en)
}

/// What went wrong with a client call, for a person: a refusal from its
/// code, a broken link as such (never the transport's English message).
pub fn client_error(e: &ClientError, lang: Lang) -> String {
    let code = e.code();
    let text = error(&code, lang);
    match &code {
        // A code a newer daemon sent: show its name, it is still meaningful.
        ErrorCode::Other(name) => format!("{text}：{name}"),
        _ => text.to_owned(),
    }
}

/// Why a display or notification stream ended without an error: hallqd
/// closed it (a restart, or it no longer serves the hall).
pub fn stream_ended(lang: Lang) -> &'static str {
    lang.pick("hallqd 结束了数据推送", "hallqd ended the stream")
}

/// hallqd dropped a display (a slow reader, SPEC §6): `reason` is the
/// daemon's word for why, kept as a detail.
pub fn display_dropped(reason: &str, lang: Lang) -> String {
    match lang {
        Lang::Zh => format!("hallqd 断开了本显示屏（{reason}）"),
        Lang::En => format!("hallqd dropped this display ({reason})"),
    }
}

/// How a booking was made (seed 000 §四(七)1).
pub fn channel(channel: hallq_proto::appointment::Channel, lang: Lang) -> &'static str {
    use hallq_proto::appointment::Channel as C;
    let (zh, en) = match channel {
        C::Onsite => ("现场预约", "onsite"),
        C::Phone => ("电话预约", "phone"),
        C::Online => ("网上预约", "online"),
    };
    lang.pick(zh, en)
}

/// Where a booking stands; a checked-in one names its ticket.
pub fn booking_state(state: hallq_proto::appointment::AppointmentState, lang: Lang) -> String {
    use hallq_proto::appointment::AppointmentState as S;
    let (zh, en) = match state {
        S::Booked => ("已预约", "booked"),
        S::CheckedIn(ticket) => {
            return match lang {
                Lang::Zh => format!("已签到，号码 {ticket}"),
                Lang::En => format!("checked in as {ticket}"),
            }
        }
        S::CancelledByVisitor => ("已由预约人取消", "cancelled by the visitor"),
        S::CancelledByHall => ("已由大厅取消", "cancelled by the hall"),
        S::Forfeited => ("已失效（未按时签到）", "forfeited"),
    };
    lang.pick(zh, en).to_owned()
}

/// A window action's name at the counter.
pub fn action(action: &WindowAction, lang: Lang) -> &'static str {
    action_name(action.name(), lang)
}

/// A window action's name from its wire name ("call", "no-show", …).
pub fn action_name(name: &str, lang: Lang) -> &'static str {
    let (zh, en) = match name {
        "call" => ("叫号", "Call"),
        "recall" => ("重呼", "Recall"),
        "start" => ("开始办理", "Start"),
        "finish" => ("办结", "Finish"),
        "no-show" => ("过号", "No-show"),
        "transfer" => ("转办", "Transfer"),
        "pause" => ("暂停", "Pause"),
        "resume" => ("恢复办理", "Resume"),
        "open" => ("开窗", "Open"),
        "close" => ("关窗", "Close"),
        "login" => ("登录", "Log in"),
        "logout" => ("退出登录", "Log out"),
        "reinstate" => ("过号恢复", "Reinstate"),
        _ => ("操作", "Action"),
    };
    lang.pick(zh, en)
}

/// What a window action did, for `hallq`'s reply: 已叫号 / "Called".
pub fn action_done(name: &str, lang: Lang) -> &str {
    let (zh, en) = match name {
        "call" => ("已叫号", "Called"),
        "recall" => ("已重呼", "Recalled"),
        "start" => ("开始办理", "Serving"),
        "finish" => ("已办结", "Finished"),
        "no-show" => ("已过号", "No-show (过号)"),
        "transfer" => ("已转办", "Transferred"),
        "pause" => ("已暂停", "Paused"),
        "resume" => ("已恢复办理", "Resumed"),
        "open" => ("已开窗", "Opened"),
        "close" => ("已关窗", "Closed"),
        "login" => ("已登录", "Logged in"),
        "logout" => ("已退出登录", "Logged out"),
        // A newer daemon's action: its wire name is still meaningful.
        other => (other, other),
    };
    lang.pick(zh, en)
}

/// A lane for the clerk and the manager.
pub fn lane(lane: Lane, lang: Lang) -> &'static str {
    let (zh, en) = match lane {
        Lane::Appointment => ("预约", "appointment"),
        Lane::Priority(PriorityReason::Elderly) => ("优先·老人", "priority: elderly"),
        Lane::Priority(PriorityReason::Disabled) => ("优先·残疾人", "priority: disabled"),
        Lane::Priority(PriorityReason::Pregnant) => ("优先·孕妇", "priority: pregnant"),
        Lane::Priority(PriorityReason::Green) => ("绿色通道", "green channel"),
        Lane::WalkIn => ("普通", "walk-in"),
    };
    lang.pick(zh, en)
}

/// A post (AB岗).
pub fn post(post: Post, lang: Lang) -> &'static str {
    match (post, lang) {
        (Post::A, Lang::Zh) => "A岗",
        (Post::B, Lang::Zh) => "B岗",
        (Post::A, Lang::En) => "post A",
        (Post::B, Lang::En) => "post B",
    }
}

/// An alert's kind for a person (issue 21).
pub fn alert_kind(kind: hallq_proto::console::AlertKind, lang: Lang) -> &'static str {
    use hallq_proto::console::AlertKind as K;
    let (zh, en) = match kind {
        K::Wait => ("等候超时", "long wait"),
        K::Paused => ("暂停过久", "paused too long"),
        K::NobodyLoggedIn => ("窗口无人登录", "open, nobody logged in"),
        K::Idle => ("窗口空闲有人等候", "idle while people wait"),
        K::BadRating => ("差评", "bad rating"),
        K::NotificationFailed => ("短信发送失败", "SMS failed"),
        K::PrintFailed => ("出票失败", "print failed"),
        K::WorkOrderOverdue => ("工单超期", "work order overdue"),
    };
    lang.pick(zh, en)
}

/// A work order's state for a person (issue 21).
pub fn work_order_state(state: hallq_proto::console::WorkOrderState, lang: Lang) -> &'static str {
    use hallq_proto::console::WorkOrderState as S;
    let (zh, en) = match state {
        S::Open => ("待回访", "open"),
        S::CalledBack => ("已回访", "called back"),
        S::Closed => ("已办结", "closed"),
    };
    lang.pick(zh, en)
}

/// The five grades (seed 000 §四(六)), index 0 is 1 非常不满意.
pub fn rating(value: u8, lang: Lang) -> &'static str {
    let (zh, en) = match value {
        5 => ("非常满意", "very satisfied"),
        4 => ("满意", "satisfied"),
        3 => ("基本满意", "fairly satisfied"),
        2 => ("不满意", "dissatisfied"),
        _ => ("非常不满意", "very dissatisfied"),
    };
    lang.pick(zh, en)
}

/// A span of time a manager reads at a glance: `45 秒`, `12 分钟`,
/// `1 小时 05 分` (`45 s`, `12 min`, `1 h 05 min`).
pub fn minutes(secs: u64, lang: Lang) -> String {
    match (secs, lang) {
        (0..=59, Lang::Zh) => format!("{secs} 秒"),
        (0..=59, Lang::En) => format!("{secs} s"),
        (60..=3599, Lang::Zh) => format!("{} 分钟", secs / 60),
        (60..=3599, Lang::En) => format!("{} min", secs / 60),
        (_, Lang::Zh) => format!("{} 小时 {:02} 分", secs / 3600, secs / 60 % 60),
        (_, Lang::En) => format!("{} h {:02} min", secs / 3600, secs / 60 % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_chinese(s: &str) -> bool {
        s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    #[test]
    fn every_known_code_has_a_chinese_and_an_english_text() {
        for code in ErrorCode::KNOWN {
            let zh = error(code, Lang::Zh);
            let en = error(code, Lang::En);
            assert!(has_chinese(zh), "{code}: {zh:?} is not Chinese");
            assert!(!en.is_empty() && en.is_ascii(), "{code}: {en:?}");
            assert!(!has_chinese(en), "{code}: {en:?} is not English");
            // A text is not the code's name read aloud.
            assert_ne!(en, code.as_str());
        }
        // A newer daemon's code still gets a sentence, with its name.
        let e = ClientError::Refused(hallq_proto::wire::ErrorReply::new(
            "seat_reserved",
            "whatever the daemon said",
        ));
        let text = client_error(&e, Lang::Zh);
        assert!(
            text.contains("seat_reserved") && has_chinese(&text),
            "{text}"
        );
        assert!(!text.contains("whatever"));
    }

    #[test]
    fn a_refusal_is_told_from_its_code_not_the_daemons_message() {
        let e = ClientError::Refused(hallq_proto::wire::ErrorReply::new(
            ErrorCode::WrongTicketState,
            "ticket C002 is Serving(WindowNo(3)), not called",
        ));
        assert_eq!(client_error(&e, Lang::Zh), "该号码当前状态不允许此操作");
        assert_eq!(
            client_error(&e, Lang::En),
            "the ticket's state does not allow this"
        );
    }

    #[test]
    fn stream_and_booking_texts_in_both_languages() {
        use hallq_proto::appointment::{AppointmentState, Channel};
        assert!(has_chinese(stream_ended(Lang::Zh)));
        assert!(!has_chinese(stream_ended(Lang::En)));
        assert_eq!(
            display_dropped("fell behind", Lang::Zh),
            "hallqd 断开了本显示屏（fell behind）"
        );
        assert_eq!(
            display_dropped("fell behind", Lang::En),
            "hallqd dropped this display (fell behind)"
        );
        for c in [Channel::Onsite, Channel::Phone, Channel::Online] {
            assert!(has_chinese(channel(c, Lang::Zh)));
            assert!(channel(c, Lang::En).is_ascii());
        }
        let a003 = "A003".parse().unwrap();
        assert_eq!(
            booking_state(AppointmentState::CheckedIn(a003), Lang::Zh),
            "已签到，号码 A003"
        );
        assert_eq!(
            booking_state(AppointmentState::Forfeited, Lang::En),
            "forfeited"
        );
    }

    #[test]
    fn languages_by_name() {
        assert_eq!(Lang::from_name("zh-CN"), Some(Lang::Zh));
        assert_eq!(Lang::from_name("EN_us"), Some(Lang::En));
        assert_eq!(Lang::from_name("fr"), None);
        for a in [
            "call",
            "recall",
            "start",
            "finish",
            "no-show",
            "transfer",
            "pause",
            "resume",
            "open",
            "close",
            "login",
            "logout",
            "reinstate",
        ] {
            assert!(has_chinese(action_name(a, Lang::Zh)));
            assert!(action_name(a, Lang::En).is_ascii());
        }
    }
}
