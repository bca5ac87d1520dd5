//! A minimal HTTP/1.1 GET over TCP, for health checks of containers on a loopback port
//! (no HTTP client dependency, no curl in the image or on the host needed).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// `GET http://<addr><path>` → (status code, body).
pub fn get(addr: &str, path: &str, timeout: Duration) -> Result<(u16, String)> {
    let sock = addr
        .to_socket_addrs()
        .with_context(|| format!("bad address {addr}"))?
        .next()
        .with_context(|| format!("{addr} resolves to nothing"))?;
    let mut s = TcpStream::connect_timeout(&sock, timeout)
        .with_context(|| format!("cannot connect to {addr}"))?;
    s.set_read_timeout(Some(timeout))
        .context("set_read_timeout")?;
    s.set_write_timeout(Some(timeout))
        .context("set_write_timeout")?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: xtask\r\nAccept: */*\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes())
        .with_context(|| format!("cannot send the request to {addr}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .with_context(|| format!("no complete response from {addr}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status_line = head.lines().next().unwrap_or("");
    let mut parts = status_line.split_whitespace();
    let (Some(proto), Some(code)) = (parts.next(), parts.next()) else {
        bail!(
            "{addr} answered something that is not HTTP: {:?}",
            status_line
        )
    };
    if !proto.starts_with("HTTP/") {
        bail!(
            "{addr} answered something that is not HTTP: {:?}",
            status_line
        );
    }
    let code: u16 = code
        .parse()
        .with_context(|| format!("bad HTTP status line {status_line:?}"))?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((code, body))
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_from_a_local_server() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr").to_string();
        let t = std::thread::spawn(move || {
            let (mut c, _) = l.accept().expect("accept");
            let mut req = Vec::new();
            let mut buf = [0u8; 256];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = c.read(&mut buf).expect("read");
                if n == 0 {
                    break;
                }
                req.extend_from_slice(&buf[..n]);
            }
            c.write_all(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            )
            .expect("write");
        });
        let (code, body) = get(&addr, "/health", Duration::from_secs(5)).expect("get");
        t.join().expect("server");
        assert_eq!((code, body.as_str()), (200, "hello"));
    }
}
