//! `[hall.templates]`: the texts of the messages a hall sends visitors (and
//! its hotline), with the Chinese defaults where a hall sets none.
//!
//! The texts live here, in the config room, rather than in the outbox that
//! fills them in: they are configuration, and keeping them at the bottom
//! layer lets `fanout` read them without config importing anything above
//! it.

use serde::Deserialize;

/// Message texts; `{ticket}`, `{position}`, `{windows}` ("1、2号窗口", or
/// "暂无窗口开放" while none is open), `{window}` and `{eta}` ("预计等候约10
/// 分钟。", or nothing while no window is open) are filled in. Chinese by
/// default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Templates {
    /// §7.3.4, at issue.
    pub issued: String,
    /// §7.3.4 + §7.3.5 when the reminder already holds at issue.
    pub issued_approaching: String,
    /// §7.3.5.
    pub approaching: String,
    /// §7.3.6.
    pub called: String,
    /// A booking was made (SPEC §2 item 9). Booking texts fill in
    /// `{code}` (also `{booking}`), `{item}` (the item's name), `{slot}`
    /// ("2026-11-23 09:30"), `{from}` and `{until}` (check-in times).
    pub booking_confirmed: String,
    /// The visitor cancelled a booking.
    pub booking_cancelled: String,
    /// The hall cancelled a booking (§四(七)7).
    pub booking_cancelled_by_hall: String,
    /// A booking was forfeited (§四(七)8).
    pub booking_forfeited: String,
    /// A visitor left a mobile number for a ticket already issued (after a
    /// failed print): `{ticket}`, `{position}` are filled in.
    pub phone_attached: String,
    /// The same when §7.3.5 holds already: come to the waiting area now.
    pub phone_attached_approaching: String,
    /// 差评工单 for the hotline (§四(六)6): `{hall}`, `{window}`, `{staff}`,
    /// `{item}`, `{item_name}`, `{ticket}`, `{rating}` are filled in.
    pub work_order: String,
    /// 线上取号's one-time code (issue 18 item 4): `{code}` (required),
    /// `{item}` (the item's name), `{minutes}` (how long it is good for).
    pub remote_code: String,
    // Issue 21: the alerts to the hall's managers. Filled in: `{hall}` (the
    // hall's name), `{item}`, `{item_name}`, `{window}`, `{ticket}`,
    // `{minutes}` (the figure), `{limit}` (the limit, minutes), `{windows}`
    // (the windows to open, "5号、6号窗口"), `{grade}` (满意度 as the national
    // rules name it), `{detail}` (a device's or the gateway's words, or the
    // work order's number), `{id}` (a work order's number).
    /// Issue 21: the `wait` alert to managers.
    pub alert_wait: String,
    /// Issue 21: the `paused` alert to managers.
    pub alert_paused: String,
    /// Issue 21: the `nobody_logged_in` alert to managers.
    pub alert_nobody_logged_in: String,
    /// Issue 21: the `idle` alert to managers.
    pub alert_idle: String,
    /// Issue 21: the `bad_rating` alert to managers.
    pub alert_bad_rating: String,
    /// Issue 21: the `notification_failed` alert to managers.
    pub alert_notification_failed: String,
    /// Issue 21: the `print_failed` alert to managers.
    pub alert_print_failed: String,
    /// Issue 21: the `work_order_overdue` alert to managers.
    pub alert_work_order_overdue: String,
}

impl Default for Templates {
    fn default() -> Self {
        Templates {
            issued: "您已取号{ticket}，前面还有{position}人，办理窗口：{windows}。{eta}".into(),
            issued_approaching: "您已取号{ticket}，前面还有{position}人，办理窗口：{windows}。即将轮到您，请到等候区等候叫号。".into(),
            approaching: "您的号码{ticket}前面还有{position}人，即将轮到您，请到等候区等候叫号。".into(),
            called: "请{ticket}号立即到{window}号窗口办理。".into(),
            booking_confirmed: "您已预约{slot}办理{item}，预约码{code}。请于{from}至{until}在大厅取号机凭预约码签到取号，超过预约时间30分钟未签到视为放弃预约。".into(),
            booking_cancelled: "您{slot}办理{item}的预约（预约码{code}）已取消。".into(),
            booking_cancelled_by_hall: "很抱歉，因特殊情况，您{slot}办理{item}的预约（预约码{code}）已被取消，请重新预约，给您带来不便敬请谅解。".into(),
            booking_forfeited: "您{slot}办理{item}的预约（预约码{code}）超过预约时间30分钟未签到，已视为放弃预约。".into(),
            phone_attached: "您的号码{ticket}已登记本手机号，前面还有{position}人，即将轮到您时和叫号时将短信通知您。".into(),
            phone_attached_approaching: "您的号码{ticket}已登记本手机号，前面还有{position}人，即将轮到您，请到等候区等候叫号。".into(),
            work_order: "差评工单：{hall}{window}号窗口（工作人员{staff}）办理{item_name}（{item}），{ticket}号评价{rating}分，请跟进回访。".into(),
            remote_code: "您正在线上取号办理{item}，验证码{code}，{minutes}分钟内有效。如非本人操作请忽略，切勿告诉他人。".into(),
            alert_wait: "【{hall}】告警：{item_name}（{item}）等候已达{minutes}分钟，超过目标{limit}分钟，建议开放{windows}。".into(),
            alert_paused: "【{hall}】告警：{window}号窗口暂停办理已{minutes}分钟（{detail}），超过{limit}分钟。".into(),
            alert_nobody_logged_in: "【{hall}】告警：{window}号窗口开放但无人登录已{minutes}分钟。".into(),
            alert_idle: "【{hall}】告警：{window}号窗口空闲{minutes}分钟，但其事项有群众在等候。".into(),
            alert_bad_rating: "【{hall}】告警：{window}号窗口{ticket}号收到“{grade}”评价，差评工单{detail}已生成，请及时回访。".into(),
            alert_notification_failed: "【{hall}】告警：短信发送失败（{detail}）。".into(),
            alert_print_failed: "【{hall}】告警：取号机出票失败（{ticket}：{detail}），请检查打印机。".into(),
            alert_work_order_overdue: "【{hall}】告警：差评工单{id}（{ticket}号，{window}号窗口）已超过办理时限，请尽快处理。".into(),
        }
    }
}

/// `[hall.templates]`: each text optional, the default where left out.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTemplates {
    pub(super) issued: Option<String>,
    pub(super) issued_approaching: Option<String>,
    pub(super) approaching: Option<String>,
    pub(super) called: Option<String>,
    pub(super) booking_confirmed: Option<String>,
    pub(super) booking_cancelled: Option<String>,
    pub(super) booking_cancelled_by_hall: Option<String>,
    pub(super) booking_forfeited: Option<String>,
    pub(super) work_order: Option<String>,
    pub(super) phone_attached: Option<String>,
    pub(super) phone_attached_approaching: Option<String>,
    pub(super) remote_code: Option<String>,
    pub(super) alert_wait: Option<String>,
    pub(super) alert_paused: Option<String>,
    pub(super) alert_nobody_logged_in: Option<String>,
    pub(super) alert_idle: Option<String>,
    pub(super) alert_bad_rating: Option<String>,
    pub(super) alert_notification_failed: Option<String>,
    pub(super) alert_print_failed: Option<String>,
    pub(super) alert_work_order_overdue: Option<String>,
}

impl RawTemplates {
    pub(super) fn validate(self, hall: &str, problems: &mut Vec<String>) -> Templates {
        let defaults = Templates::default();
        let mut empty = Vec::new();
        let mut pick = |name: &str, given: Option<String>, default: String| match given {
            Some(text) if text.trim().is_empty() => {
                empty.push(format!("hall {hall:?}: templates.{name} is empty"));
                default
            }
            Some(text) => text,
            None => default,
        };
        let templates = Templates {
            issued: pick("issued", self.issued, defaults.issued),
            issued_approaching: pick(
                "issued_approaching",
                self.issued_approaching,
                defaults.issued_approaching,
            ),
            approaching: pick("approaching", self.approaching, defaults.approaching),
            called: pick("called", self.called, defaults.called),
            booking_confirmed: pick(
                "booking_confirmed",
                self.booking_confirmed,
                defaults.booking_confirmed,
            ),
            booking_cancelled: pick(
                "booking_cancelled",
                self.booking_cancelled,
                defaults.booking_cancelled,
            ),
            booking_cancelled_by_hall: pick(
                "booking_cancelled_by_hall",
                self.booking_cancelled_by_hall,
                defaults.booking_cancelled_by_hall,
            ),
            booking_forfeited: pick(
                "booking_forfeited",
                self.booking_forfeited,
                defaults.booking_forfeited,
            ),
            work_order: pick("work_order", self.work_order, defaults.work_order),
            phone_attached: pick(
                "phone_attached",
                self.phone_attached,
                defaults.phone_attached,
            ),
            phone_attached_approaching: pick(
                "phone_attached_approaching",
                self.phone_attached_approaching,
                defaults.phone_attached_approaching,
            ),
            remote_code: match self.remote_code {
                Some(text) if !text.contains("{code}") => {
                    problems.push(format!(
                        "hall {hall:?}: templates.remote_code must contain {{code}}"
                    ));
                    defaults.remote_code
                }
                given => pick("remote_code", given, defaults.remote_code),
            },
            alert_wait: pick("alert_wait", self.alert_wait, defaults.alert_wait),
            alert_paused: pick("alert_paused", self.alert_paused, defaults.alert_paused),
            alert_nobody_logged_in: pick(
                "alert_nobody_logged_in",
                self.alert_nobody_logged_in,
                defaults.alert_nobody_logged_in,
            ),
            alert_idle: pick("alert_idle", self.alert_idle, defaults.alert_idle),
            alert_bad_rating: pick(
                "alert_bad_rating",
                self.alert_bad_rating,
                defaults.alert_bad_rating,
            ),
            alert_notification_failed: pick(
                "alert_notification_failed",
                self.alert_notification_failed,
                defaults.alert_notification_failed,
            ),
            alert_print_failed: pick(
                "alert_print_failed",
                self.alert_print_failed,
                defaults.alert_print_failed,
            ),
            alert_work_order_overdue: pick(
                "alert_work_order_overdue",
                self.alert_work_order_overdue,
                defaults.alert_work_order_overdue,
            ),
        };
        problems.append(&mut empty);
        templates
    }
}
