use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&((4 + body.len()) as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A reader whose buffer has less room than a frame header (a long-lived
/// connection's decoder reaches this after some hundreds of statements)
/// must still get every complete frame: none may wait on the socket for
/// bytes the client never sends.
#[tokio::test]
async fn issue14_a_small_read_buffer_never_stalls_a_complete_frame() {
    let params = b"user\0floe\0\0";
    let mut startup = Vec::new();
    startup.extend_from_slice(&((8 + params.len()) as u32).to_be_bytes());
    startup.extend_from_slice(&196_608u32.to_be_bytes());
    startup.extend_from_slice(params);
    let session: Vec<u8> = (0..1000).flat_map(|_| frame(b'Q', b"SELECT 1\0")).collect();

    let (mut client, server) = tokio::io::duplex(1 << 20);
    client.write_all(&startup).await.unwrap();
    client.write_all(&session).await.unwrap();
    // The client stays connected and sends nothing more.
    let mut checked = Checked::new(server, BytesMut::new(), false);
    let mut got = vec![0u8; startup.len()];
    checked.read_exact(&mut got).await.unwrap();
    assert_eq!(got, startup);
    checked.logged_in();

    let mut out = Vec::new();
    let mut small = [0u8; 3];
    while out.len() < session.len() {
        let n = tokio::time::timeout(Duration::from_secs(5), checked.read(&mut small))
            .await
            .expect("a complete frame waited on the socket")
            .unwrap();
        assert!(
            n > 0,
            "end of stream after {} of {} bytes",
            out.len(),
            session.len()
        );
        out.extend_from_slice(&small[..n]);
    }
    assert_eq!(out, session);
    drop(client);
}
