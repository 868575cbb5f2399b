//! `hallq` and the manager's console data (issue 21): how the answers to
//! `alerts`, `workorders`, `workorder …` and `rating appeal` print, as
//! text (Chinese by default, `--lang en`) and as `--json`.

use serde_json::{json, Value};

use hallq_proto::console::{AlertView, AppealView, WorkOrderView};
use hallq_proto::wire::Response;

use hallq_client::text::Lang;

/// The `--json` object of one of this module's answers, if `r` is one.
pub fn json(r: &Response) -> Option<Value> {
    Some(match r {
        Response::Console(v) => json!(v),
        Response::Alerts(alerts) => json!({ "alerts": alerts }),
        Response::WorkOrders(page) => json!({ "work_orders": page.orders, "next": page.next }),
        Response::WorkOrder(order) => json!(order),
        Response::RatingAppealed(appeal) => json!(appeal),
        _ => return None,
    })
}

/// The text of one of this module's answers in `lang`, if `r` is one.
pub fn human_in(r: &Response, lang: Lang) -> Option<String> {
    Some(match r {
        Response::Console(v) => format!("{} · {}", v.hall_name, v.day),
        Response::Alerts(alerts) => alerts
            .iter()
            .map(|a| alert_line(a, lang))
            .collect::<Vec<_>>()
            .join("\n"),
        Response::WorkOrders(page) => page
            .orders
            .iter()
            .map(|o| work_order_line(o, lang))
            .collect::<Vec<_>>()
            .join("\n"),
        Response::WorkOrder(order) => work_order_line(order, lang),
        Response::RatingAppealed(appeal) => appeal_line(appeal, lang),
        _ => return None,
    })
}

fn alert_line(a: &AlertView, _lang: Lang) -> String {
    a.id.clone()
}

fn work_order_line(o: &WorkOrderView, _lang: Lang) -> String {
    format!("#{} {}", o.id, o.ticket)
}

fn appeal_line(a: &AppealView, _lang: Lang) -> String {
    format!("{} {}", a.ticket, a.reason)
}
