//! The day in charts (issue 21): what a hall manager looks at instead of
//! reading a table, for today or any past business day, from hallqd's
//! journal. Shared by `hallq report` (one self-contained HTML file), the
//! console's charts tab and, for its drawing, `hallq simulate --html`.
//!
//! - [`draw`]: the chart kinds, drawn by `plotters` as SVG with CJK fonts
//!   named.
//! - [`day`]: the day's figures from the journal's answers, pure, and the
//!   charts made from them with their CSV.
//! - [`page`]: the charts as HTML with their save buttons (SVG, PNG, CSV),
//!   and the report page.
//!
//! [`fetch`] asks hallqd (admin) for what [`day::DayData`] needs.

pub mod day;
pub mod draw;
pub mod page;

use hallq_proto::wire::{DayReport, Request, Response, StatsBy};

use crate::client::ClientError;
use crate::follow::FollowingClient;
use day::DayData;

/// The report of `day` broken down `by`.
async fn report(
    client: &FollowingClient,
    day: Option<u32>,
    by: StatsBy,
) -> Result<DayReport, ClientError> {
    match client
        .request(&Request::Report { day, by: Some(by) })
        .await?
    {
        Response::Report(r) => Ok(*r),
        other => Err(ClientError::Unexpected(format!("{other:?}"))),
    }
}

/// Everything the charts of business day `day` (today's if `None`) are
/// made from: three reports and every record with its trail (admin).
pub async fn fetch(client: &FollowingClient, day: Option<u32>) -> Result<DayData, ClientError> {
    // The first answer fixes the day: the rest must not move to the next
    // one should midnight pass meanwhile.
    let by_item = report(client, day, StatsBy::Item).await?;
    let day = by_item.stats.day;
    let by_window = report(client, Some(day), StatsBy::Window).await?;
    let by_staff = report(client, Some(day), StatsBy::Staff).await?;
    let mut records = Vec::new();
    let mut offset_minutes;
    let mut from = 0;
    loop {
        let page = match client
            .request(&Request::ExportDetailed {
                day: Some(day),
                from,
            })
            .await?
        {
            Response::ExportDetailed(page) => page,
            other => return Err(ClientError::Unexpected(format!("{other:?}"))),
        };
        offset_minutes = page.offset_minutes;
        records.extend(page.records.into_iter().zip(page.trails));
        match page.next {
            Some(n) if n > from => from = n,
            _ => break,
        }
    }
    // Names from today's config (a past day's items keep their letters).
    let (hall_name, items) = match client.request(&Request::Status).await {
        Ok(Response::Status(s)) => (
            s.hall_name,
            s.view.items.into_iter().map(|i| (i.code, i.name)).collect(),
        ),
        _ => (by_item.stats.hall.clone(), Vec::new()),
    };
    Ok(DayData {
        hall: by_item.stats.hall.clone(),
        hall_name,
        day,
        offset_minutes,
        items,
        records,
        by_item,
        by_window,
        by_staff,
    })
}
