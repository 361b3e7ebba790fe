//! Stdio transport with JSON-RPC parse errors: rmcp silently drops lines that are not JSON, but
//! JSON-RPC 2.0 requires a `-32700` reply. Lines are screened here; valid JSON goes on to rmcp
//! through an in-memory pipe and one writer task owns stdout so replies never interleave.

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// Longest line accepted from the client (a request larger than this is refused, not buffered).
const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// The rmcp side of the bridge, plus the writer task to await so the last replies are flushed.
pub struct Screened {
    pub reader: tokio::io::DuplexStream,
    pub writer: tokio::io::DuplexStream,
    pub flushed: tokio::task::JoinHandle<()>,
}

/// Bridges `input`/`output` (the process's stdin/stdout) to a pipe pair that rmcp serves.
pub fn screened<R, W>(input: R, output: W) -> Screened
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (to_rmcp, rmcp_reads) = tokio::io::duplex(64 * 1024);
    let (rmcp_writes, from_rmcp) = tokio::io::duplex(64 * 1024);
    let (lines_out, lines_in) = mpsc::channel::<String>(64);

    tokio::spawn(screen_input(input, to_rmcp, lines_out.clone()));
    tokio::spawn(forward_replies(from_rmcp, lines_out));
    let flushed = tokio::spawn(write_lines(lines_in, output));
    Screened {
        reader: rmcp_reads,
        writer: rmcp_writes,
        flushed,
    }
}

async fn screen_input<R: AsyncRead + Unpin>(
    input: R,
    mut to_rmcp: tokio::io::DuplexStream,
    replies: mpsc::Sender<String>,
) {
    let mut lines = BufReader::new(input).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim().is_empty() {
            continue;
        }
        let problem = if line.len() > MAX_LINE_BYTES {
            Some(format!("message larger than {MAX_LINE_BYTES} bytes"))
        } else {
            serde_json::from_str::<Value>(&line)
                .err()
                .map(|e| e.to_string())
        };
        if let Some(problem) = problem {
            let reply = json!({
                "jsonrpc": "2.0",
                "id": null,
                "error": {"code": -32700, "message": format!("Parse error: {problem}")},
            });
            if replies.send(reply.to_string()).await.is_err() {
                break;
            }
            continue;
        }
        let forwarded = async {
            to_rmcp.write_all(line.as_bytes()).await?;
            to_rmcp.write_all(b"\n").await
        };
        if forwarded.await.is_err() {
            break;
        }
    }
    // Dropping `to_rmcp` closes rmcp's input: the session ends as when stdin closes.
}

async fn forward_replies(from_rmcp: tokio::io::DuplexStream, replies: mpsc::Sender<String>) {
    let mut lines = BufReader::new(from_rmcp).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if replies.send(line).await.is_err() {
            break;
        }
    }
}

async fn write_lines<W: AsyncWrite + Unpin>(mut lines: mpsc::Receiver<String>, mut output: W) {
    while let Some(line) = lines.recv().await {
        let written = async {
            output.write_all(line.as_bytes()).await?;
            output.write_all(b"\n").await?;
            output.flush().await
        };
        if written.await.is_err() {
            break;
        }
    }
}
