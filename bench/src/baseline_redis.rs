//! The Redis baseline: the ticket workload as it is usually built on an
//! in-memory store with an append-only file.
//!
//! - issue = `INCR seq:<item>` for the daily number, then `RPUSH` onto the
//!   item's lane list and `PUBLISH lines <item>` (one pipeline);
//! - call = `LMPOP` over the window's lists in lane order (priority lists of
//!   all its items, then walk-in lists), then `PUBLISH calls <key>`;
//! - start and finish = `HSET t:<key> state …`;
//! - displays = `SUBSCRIBE calls`.
//!
//! The server runs with `appendonly yes` and `appendfsync always`
//! (`bench/compare.sh`): a write is fsynced before its reply, as hallqd's
//! are. Like the PostgreSQL baseline it does less per ticket than hallqd.

use std::sync::Arc;

use anyhow::Context;
use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;

use crate::backend::{call_key, Backend, CallKey, Display, DisplayEvent, Kiosk, Window};
use crate::workload::{window_items, LaneChoice, TicketSpec};

/// A Redis server, by URL (`redis://127.0.0.1:6390/`).
#[derive(Debug, Clone)]
pub struct RedisBackend {
    client: redis::Client,
    items: usize,
    pid: Option<u32>,
}

impl RedisBackend {
    /// Connects once and empties the database (a fresh business day).
    pub async fn setup(url: &str, items: usize, pid: Option<u32>) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).with_context(|| format!("bad Redis URL {url}"))?;
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .with_context(|| format!("cannot connect to Redis at {url}"))?;
        redis::cmd("FLUSHALL")
            .query_async::<()>(&mut conn)
            .await
            .context("FLUSHALL")?;
        Ok(RedisBackend { client, items, pid })
    }

    async fn connect(&self) -> anyhow::Result<MultiplexedConnection> {
        self.client
            .get_multiplexed_async_connection()
            .await
            .context("cannot connect to Redis")
    }
}

fn lane_list(item: u8, lane: LaneChoice) -> String {
    match lane {
        LaneChoice::Priority(_) => format!("q:{item}:p"),
        LaneChoice::WalkIn => format!("q:{item}:w"),
    }
}

/// A kiosk connection.
#[derive(Debug)]
pub struct RedisKiosk(MultiplexedConnection);

/// A window's connection.
#[derive(Debug)]
pub struct RedisWindow {
    conn: MultiplexedConnection,
    number: u16,
    /// The lists to pop from, in call order.
    lists: Arc<[String]>,
    current: Option<CallKey>,
}

/// A `SUBSCRIBE calls` connection.
pub struct RedisDisplay {
    messages: futures_util::stream::BoxStream<'static, redis::Msg>,
}

impl std::fmt::Debug for RedisDisplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisDisplay")
    }
}

impl Backend for RedisBackend {
    type Kiosk = RedisKiosk;
    type Window = RedisWindow;
    type Display = RedisDisplay;

    fn name(&self) -> &'static str {
        "redis"
    }

    async fn kiosk(&self, _index: usize) -> anyhow::Result<RedisKiosk> {
        Ok(RedisKiosk(self.connect().await?))
    }

    async fn window(&self, number: u16) -> anyhow::Result<RedisWindow> {
        let items = window_items(number, self.items);
        let lists: Vec<String> = [LaneChoice::Priority(0), LaneChoice::WalkIn]
            .into_iter()
            .flat_map(|lane| items.iter().map(move |&i| lane_list(i, lane)))
            .collect();
        Ok(RedisWindow {
            conn: self.connect().await?,
            number,
            lists: lists.into(),
            current: None,
        })
    }

    async fn display(&self, _index: usize) -> anyhow::Result<RedisDisplay> {
        let mut pubsub = self
            .client
            .get_async_pubsub()
            .await
            .context("cannot connect a display to Redis")?;
        pubsub.subscribe("calls").await?;
        Ok(RedisDisplay {
            messages: pubsub.into_on_message().boxed(),
        })
    }

    fn server_pid(&self) -> Option<u32> {
        self.pid
    }
}

impl Kiosk for RedisKiosk {
    async fn issue(&mut self, ticket: &TicketSpec) -> anyhow::Result<CallKey> {
        let seq: u64 = redis::cmd("INCR")
            .arg(format!("seq:{}", ticket.item))
            .query_async(&mut self.0)
            .await?;
        let key = call_key(ticket.item, seq);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("RPUSH")
            .arg(lane_list(ticket.item, ticket.lane))
            .arg(key)
            .ignore()
            .cmd("PUBLISH")
            .arg("lines")
            .arg(ticket.item)
            .ignore();
        pipe.query_async::<()>(&mut self.0).await?;
        Ok(key)
    }
}

impl Window for RedisWindow {
    async fn call(&mut self) -> anyhow::Result<Option<CallKey>> {
        let popped: Option<(String, Vec<CallKey>)> = redis::cmd("LMPOP")
            .arg(self.lists.len())
            .arg(&*self.lists)
            .arg("LEFT")
            .query_async(&mut self.conn)
            .await?;
        let Some(key) = popped.and_then(|(_, keys)| keys.first().copied()) else {
            return Ok(None);
        };
        redis::cmd("PUBLISH")
            .arg("calls")
            .arg(key)
            .query_async::<()>(&mut self.conn)
            .await?;
        self.current = Some(key);
        Ok(Some(key))
    }

    async fn start(&mut self) -> anyhow::Result<()> {
        let key = self.current.context("no current ticket")?;
        redis::cmd("HSET")
            .arg(format!("t:{key}"))
            .arg("state")
            .arg("serving")
            .arg("window")
            .arg(self.number)
            .query_async::<()>(&mut self.conn)
            .await?;
        Ok(())
    }

    async fn finish(&mut self) -> anyhow::Result<()> {
        let key = self.current.take().context("no current ticket")?;
        redis::cmd("HSET")
            .arg(format!("t:{key}"))
            .arg("state")
            .arg("done")
            .query_async::<()>(&mut self.conn)
            .await?;
        Ok(())
    }
}

impl Display for RedisDisplay {
    async fn next(&mut self) -> anyhow::Result<DisplayEvent> {
        Ok(match self.messages.next().await {
            Some(msg) => match msg.get_payload::<CallKey>() {
                Ok(key) => DisplayEvent::Calls(vec![key]),
                Err(_) => DisplayEvent::Other,
            },
            None => DisplayEvent::Ended,
        })
    }
}
