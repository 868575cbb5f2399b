//! The ticket slip as ESC/POS bytes (pure: no I/O), for the 80 mm and
//! 58 mm Chinese thermal printers kiosks carry (Epson TM-T88 command set,
//! as Xprinter, GPrinter, Sewoo and the like implement it).
//!
//! Chinese text is sent as GB18030 inside the printers' Chinese character
//! mode (`FS &` … `FS .`): printers without it print GB bytes as Latin
//! garbage, and printers in that mode read GBK, of which GB18030's one-
//! and two-byte forms are a superset. The QR code is the printer's own
//! (`GS ( k`, function 165/167/169/180/181), so no raster image is sent.
//!
//! What a slip shows follows DB33/T 2036.4 §7.3.4: the hall, the item, the
//! number (double size), people ahead, the windows, the time of issue and
//! the estimated wait.

use hallq_proto::types::Lane;
use hallq_proto::wire::IssuedTicket;

/// ESC @: initialise the printer (clears any mode a previous job left).
pub const INIT: [u8; 2] = [0x1B, 0x40];
/// FS &: enter the Chinese character mode.
pub const CHINESE_ON: [u8; 2] = [0x1C, 0x26];
/// FS .: leave the Chinese character mode.
pub const CHINESE_OFF: [u8; 2] = [0x1C, 0x2E];
/// GS V 66 0: feed to the cutter and cut (partial cut where the cutter
/// has one: the slip stays on the kiosk until taken).
pub const CUT: [u8; 4] = [0x1D, 0x56, 0x42, 0x00];
/// DLE EOT 1: the printer's status (bit 3: offline).
pub const STATUS_PRINTER: [u8; 3] = [0x10, 0x04, 0x01];
/// DLE EOT 4: the paper roll sensor (bits 5 and 6: paper end).
pub const STATUS_PAPER: [u8; 3] = [0x10, 0x04, 0x04];

/// What goes on the slip besides the ticket itself.
#[derive(Debug, Clone)]
pub struct Slip<'a> {
    /// The hall's name, at the top.
    pub hall_name: &'a str,
    /// The ticket as hallqd issued it.
    pub ticket: &'a IssuedTicket,
    /// The time of issue, as the hall reads it ("2026-12-01 09:31").
    pub time: String,
    /// What the QR code carries: the ticket's link for the visitor's
    /// phone when there is one, else the hall and ticket number.
    pub qr: String,
}

/// Builds the ESC/POS job that prints `slip` and cuts the paper.
pub fn ticket_job(slip: &Slip<'_>) -> Vec<u8> {
    let t = slip.ticket;
    let mut job = Vec::with_capacity(512);
    job.extend_from_slice(&INIT);
    job.extend_from_slice(&CHINESE_ON);
    align(&mut job, 1);
    size(&mut job, 0x11);
    text(&mut job, slip.hall_name);
    size(&mut job, 0x00);
    text(
        &mut job,
        &format!("{}  {}", t.item_name, lane_label(t.lane)),
    );
    job.push(b'\n');
    // The number as large as common printers go in one line (GS ! 0x33:
    // 4× wide, 4× high would overflow 58 mm paper with four characters;
    // 3× keeps "A012" on it).
    size(&mut job, 0x22);
    text(&mut job, &t.ticket.to_string());
    size(&mut job, 0x00);
    job.push(b'\n');
    align(&mut job, 0);
    text(&mut job, &format!("前面还有 {} 人", t.position));
    let windows = if t.windows.is_empty() {
        "暂无开放窗口，请留意叫号屏".to_owned()
    } else {
        let list: Vec<String> = t.windows.iter().map(|w| w.0.to_string()).collect();
        format!("请到 {} 号窗口办理", list.join("、"))
    };
    text(&mut job, &windows);
    match t.eta_secs {
        Some(secs) => text(&mut job, &format!("预计等候 {}", wait_zh(secs))),
        None => text(&mut job, "预计等候：暂无法估计"),
    }
    text(&mut job, &format!("取号时间 {}", slip.time));
    job.push(b'\n');
    align(&mut job, 1);
    qr(&mut job, &slip.qr);
    text(&mut job, "请保管好您的号票，过号请到窗口咨询");
    job.extend_from_slice(&CHINESE_OFF);
    job.extend_from_slice(b"\n\n\n");
    job.extend_from_slice(&CUT);
    job
}

/// A lane as the slip names it.
pub fn lane_label(lane: Lane) -> &'static str {
    use hallq_proto::types::PriorityReason as P;
    match lane {
        Lane::WalkIn => "普通",
        Lane::Appointment => "预约",
        Lane::Priority(P::Elderly) => "优先·老人",
        Lane::Priority(P::Disabled) => "优先·残疾人",
        Lane::Priority(P::Pregnant) => "优先·孕妇",
        Lane::Priority(P::Green) => "绿色通道",
    }
}

/// A wait in minutes, as the slip and the screen say it.
pub fn wait_zh(secs: u32) -> String {
    match secs.div_ceil(60) {
        0 => "无需等候".into(),
        m => format!("约 {m} 分钟"),
    }
}

/// One line of text in GB18030, then a line feed.
fn text(job: &mut Vec<u8>, s: &str) {
    let (bytes, _, _) = encoding_rs::GB18030.encode(s);
    job.extend_from_slice(&bytes);
    job.push(b'\n');
}

/// ESC a n: 0 left, 1 centre.
fn align(job: &mut Vec<u8>, n: u8) {
    job.extend_from_slice(&[0x1B, 0x61, n]);
}

/// GS ! n for ASCII and FS ! for Chinese: the high nibble widens, the low
/// one heightens (0x11 double, 0x22 triple); FS ! only knows double.
fn size(job: &mut Vec<u8>, n: u8) {
    job.extend_from_slice(&[0x1D, 0x21, n]);
    let chinese = if n == 0 { 0x00 } else { 0x0C };
    job.extend_from_slice(&[0x1C, 0x21, chinese]);
}

/// The printer's own QR code (GS ( k): model 2, module size 6, error
/// correction M, store the data, print it.
fn qr(job: &mut Vec<u8>, data: &str) {
    let gs_k = |job: &mut Vec<u8>, body: &[u8]| {
        let len = body.len() as u16;
        job.extend_from_slice(&[0x1D, 0x28, 0x6B]);
        job.extend_from_slice(&len.to_le_bytes());
        job.extend_from_slice(body);
    };
    gs_k(job, &[0x31, 0x41, 0x32, 0x00]); // fn 165: model 2
    gs_k(job, &[0x31, 0x43, 0x06]); // fn 167: module size
    gs_k(job, &[0x31, 0x45, 0x31]); // fn 169: error correction M
    let mut store = vec![0x31, 0x50, 0x30]; // fn 180: store
    store.extend_from_slice(data.as_bytes());
    gs_k(job, &store);
    gs_k(job, &[0x31, 0x51, 0x30]); // fn 181: print
    job.push(b'\n');
}

/// What a DLE EOT answer says is wrong, if anything: `n` is the query
/// (1 printer, 4 paper), `answer` the printer's byte.
pub fn status_problem(n: u8, answer: u8) -> Option<&'static str> {
    match n {
        1 if answer & 0x08 != 0 => Some("printer offline"),
        4 if answer & 0x60 == 0x60 => Some("paper out"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hallq_proto::types::{ItemCode, TicketNo, Timestamp, WindowNo};

    fn ticket() -> IssuedTicket {
        IssuedTicket {
            ticket: TicketNo {
                item: ItemCode::new('A').unwrap(),
                seq: 12,
            },
            item_name: "社保".into(),
            lane: Lane::WalkIn,
            position: 3,
            windows: vec![WindowNo(1), WindowNo(2)],
            eta_secs: Some(450),
            approaching: false,
            issued_at: Timestamp(0),
        }
    }

    fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).position(|w| w == needle)
    }

    #[test]
    fn a_slip_is_initialised_chinese_qr_and_cut() {
        let t = ticket();
        let job = ticket_job(&Slip {
            hall_name: "市民中心",
            ticket: &t,
            time: "2026-12-01 09:31".into(),
            qr: "hallq:main:A012".into(),
        });
        assert_eq!(&job[..2], &INIT);
        assert_eq!(&job[2..4], &CHINESE_ON);
        let gb = |s: &str| encoding_rs::GB18030.encode(s).0.into_owned();
        assert!(find(&job, &gb("市民中心")).is_some());
        assert!(find(&job, &gb("前面还有 3 人")).is_some());
        assert!(find(&job, &gb("请到 1、2 号窗口办理")).is_some());
        assert!(find(&job, &gb("预计等候 约 8 分钟")).is_some());
        // The number, triple size, right after its GS ! command.
        let big = find(&job, &[0x1D, 0x21, 0x22]).unwrap();
        assert!(find(&job[big..], b"A012").is_some());
        // QR: store (fn 180) with length = data + 3, then print (fn 181).
        let store = find(&job, &[0x1D, 0x28, 0x6B, 18, 0, 0x31, 0x50, 0x30]).unwrap();
        assert_eq!(&job[store + 8..store + 23], b"hallq:main:A012");
        assert!(find(&job, &[0x1D, 0x28, 0x6B, 3, 0, 0x31, 0x51, 0x30]).unwrap() > store);
        assert!(job.ends_with(&CUT));
    }

    #[test]
    fn status_bits() {
        assert_eq!(status_problem(1, 0x16), None);
        assert_eq!(status_problem(1, 0x1E), Some("printer offline"));
        assert_eq!(status_problem(4, 0x12), None);
        assert_eq!(status_problem(4, 0x72), Some("paper out"));
    }
}
