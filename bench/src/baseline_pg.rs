//! The PostgreSQL baseline: the ticket workload as it is usually built on a
//! relational database.
//!
//! - a `ticket` table with a partial index over the waiting tickets;
//! - issue = `INSERT … RETURNING id` in a transaction;
//! - call = `SELECT … FOR UPDATE SKIP LOCKED` of the window's items in lane
//!   order, `UPDATE` to called, `pg_notify('calls', id)`, in a transaction;
//! - start and finish = one `UPDATE` each;
//! - displays = `LISTEN calls`.
//!
//! The server runs with `synchronous_commit = on` (`bench/compare.sh`), so
//! every commit is flushed before it is acknowledged, as hallqd's are. It
//! does less than hallqd per ticket: no positions, estimated waits, load
//! balancing across items, reminders or notification outbox.

use std::sync::Arc;

use anyhow::Context;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, NoTls, Statement};

use crate::backend::{Backend, CallKey, Display, DisplayEvent, Kiosk, Window};
use crate::workload::{window_items, TicketSpec};

const SCHEMA: &str = "
DROP TABLE IF EXISTS ticket;
CREATE TABLE ticket (
    id         bigserial PRIMARY KEY,
    item       smallint NOT NULL,
    lane       smallint NOT NULL,
    phone      text,
    state      smallint NOT NULL DEFAULT 0,  -- 0 waiting, 1 called, 2 serving, 3 done
    window_no  smallint,
    issued_at  timestamptz NOT NULL DEFAULT now(),
    called_at  timestamptz
);
CREATE INDEX ticket_waiting ON ticket (lane, id) WHERE state = 0;
";

/// A PostgreSQL server, by libpq connection string.
#[derive(Debug, Clone)]
pub struct PgBackend {
    conninfo: Arc<str>,
    items: usize,
    pid: Option<u32>,
}

impl PgBackend {
    /// Connects once to (re)create the schema.
    pub async fn setup(conninfo: &str, items: usize, pid: Option<u32>) -> anyhow::Result<Self> {
        let backend = PgBackend {
            conninfo: conninfo.into(),
            items,
            pid,
        };
        let client = backend.connect().await?;
        client
            .batch_execute(SCHEMA)
            .await
            .context("cannot create the ticket table")?;
        Ok(backend)
    }

    async fn connect(&self) -> anyhow::Result<Client> {
        let (client, connection) = tokio_postgres::connect(&self.conninfo, NoTls)
            .await
            .with_context(|| format!("cannot connect to PostgreSQL ({})", self.conninfo))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }
}

/// A kiosk connection with its statement prepared.
#[derive(Debug)]
pub struct PgKiosk {
    client: Client,
    insert: Statement,
}

/// A window's connection.
#[derive(Debug)]
pub struct PgWindow {
    client: Client,
    number: i16,
    items: Vec<i16>,
    select: Statement,
    update: Statement,
    set_state: Statement,
    current: Option<i64>,
}

/// A `LISTEN calls` connection.
#[derive(Debug)]
pub struct PgDisplay {
    // Kept so the connection stays open.
    _client: Client,
    calls: mpsc::UnboundedReceiver<Option<CallKey>>,
}

impl Backend for PgBackend {
    type Kiosk = PgKiosk;
    type Window = PgWindow;
    type Display = PgDisplay;

    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn kiosk(&self, _index: usize) -> anyhow::Result<PgKiosk> {
        let client = self.connect().await?;
        let insert = client
            .prepare("INSERT INTO ticket (item, lane, phone) VALUES ($1, $2, $3) RETURNING id")
            .await?;
        Ok(PgKiosk { client, insert })
    }

    async fn window(&self, number: u16) -> anyhow::Result<PgWindow> {
        let client = self.connect().await?;
        let select = client
            .prepare(
                "SELECT id FROM ticket WHERE state = 0 AND item = ANY($1) \
                 ORDER BY lane, id LIMIT 1 FOR UPDATE SKIP LOCKED",
            )
            .await?;
        let update = client
            .prepare("UPDATE ticket SET state = 1, window_no = $2, called_at = now() WHERE id = $1")
            .await?;
        let set_state = client
            .prepare("UPDATE ticket SET state = $2 WHERE id = $1")
            .await?;
        Ok(PgWindow {
            client,
            number: i16::try_from(number)?,
            items: window_items(number, self.items)
                .into_iter()
                .map(i16::from)
                .collect(),
            select,
            update,
            set_state,
            current: None,
        })
    }

    async fn display(&self, _index: usize) -> anyhow::Result<PgDisplay> {
        let (client, mut connection) = tokio_postgres::connect(&self.conninfo, NoTls)
            .await
            .context("cannot connect a display to PostgreSQL")?;
        let (tx, calls) = mpsc::unbounded_channel();
        // Notifications arrive through the connection object, which must
        // be polled for them.
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(n)) => {
                        if tx.send(n.payload().parse::<CallKey>().ok()).is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        });
        client.batch_execute("LISTEN calls").await?;
        Ok(PgDisplay {
            _client: client,
            calls,
        })
    }

    fn server_pid(&self) -> Option<u32> {
        self.pid
    }
}

impl Kiosk for PgKiosk {
    async fn issue(&mut self, ticket: &TicketSpec) -> anyhow::Result<CallKey> {
        let tx = self.client.transaction().await?;
        let row = tx
            .query_one(
                &self.insert,
                &[&i16::from(ticket.item), &ticket.lane.rank(), &ticket.phone],
            )
            .await?;
        tx.commit().await?;
        Ok(u64::try_from(row.get::<_, i64>(0))?)
    }
}

impl Window for PgWindow {
    async fn call(&mut self) -> anyhow::Result<Option<CallKey>> {
        let tx = self.client.transaction().await?;
        let Some(row) = tx.query_opt(&self.select, &[&self.items]).await? else {
            tx.commit().await?;
            return Ok(None);
        };
        let id: i64 = row.get(0);
        tx.execute(&self.update, &[&id, &self.number]).await?;
        tx.execute("SELECT pg_notify('calls', $1::text)", &[&id.to_string()])
            .await?;
        tx.commit().await?;
        self.current = Some(id);
        Ok(Some(u64::try_from(id)?))
    }

    async fn start(&mut self) -> anyhow::Result<()> {
        let id = self.current.context("no current ticket")?;
        self.client.execute(&self.set_state, &[&id, &2i16]).await?;
        Ok(())
    }

    async fn finish(&mut self) -> anyhow::Result<()> {
        let id = self.current.take().context("no current ticket")?;
        self.client.execute(&self.set_state, &[&id, &3i16]).await?;
        Ok(())
    }
}

impl Display for PgDisplay {
    async fn next(&mut self) -> anyhow::Result<DisplayEvent> {
        Ok(match self.calls.recv().await {
            Some(Some(key)) => DisplayEvent::Calls(vec![key]),
            Some(None) => DisplayEvent::Other,
            None => DisplayEvent::Ended,
        })
    }
}
