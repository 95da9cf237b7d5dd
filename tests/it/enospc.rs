//! A full disk: PUT answers 507 InsufficientStorage, the index stays as it was, and writes
//! work again once space is freed. The blob dir is a small tmpfs (needs root, as CI runs).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;

use crate::harness::{assert_err, err_info, get_bytes, pattern, Server};

/// Unmounts on drop, after the server using it has stopped.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn mount_small_fs(at: &Path, size: &str) -> Option<Mount> {
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(at)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    ok.then(|| Mount(at.to_owned()))
}

#[tokio::test]
async fn a_full_disk_is_507_and_recovers_when_space_frees() {
    let mut srv = Server::start();
    if srv.skip_external("needs the server's own blob dir") {
        return;
    }
    let bucket = srv.bucket(&srv.client(), "full").await;
    srv.sigterm();
    assert!(srv.wait_exit(Duration::from_secs(20)).is_some());
    let blobs = srv.data_dir().join("blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    let Some(_mount) = mount_small_fs(&blobs, "8m") else {
        // Only root can mount; CI runs as root, so there this test always runs.
        eprintln!("skipped: cannot mount a tmpfs here (not root)");
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must be able to mount a tmpfs"
        );
        return;
    };
    srv.restart();
    let s3 = srv.client();
    let mb3 = 3 << 20;
    let mut stored = Vec::new();
    let mut full_at = None;
    for i in 0..5 {
        let key = format!("k{i}");
        let r = s3
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .body(ByteStream::from(pattern(mb3, i)))
            .send()
            .await;
        match r {
            Ok(_) => stored.push((key, i)),
            Err(e) => {
                let info = err_info::<(), _>(Err(e));
                assert_eq!(info.status, 507, "{info:?}");
                assert_eq!(info.code.as_deref(), Some("InsufficientStorage"));
                full_at = Some(key);
                break;
            }
        }
    }
    let full_key = full_at.expect("an 8 MiB disk took five 3 MiB objects");
    assert_eq!(stored.len(), 2, "{stored:?}");
    // The refused object is not there, half or whole; the others are intact.
    assert_err(
        s3.head_object().bucket(&bucket).key(&full_key).send().await,
        404,
        None,
    );
    for (k, seed) in &stored {
        assert_eq!(get_bytes(&s3, &bucket, k).await, pattern(mb3, *seed));
    }
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert_eq!(listed.key_count(), Some(2));

    // Free space: the sweeper deletes the blob after its grace period; then PUT works.
    s3.delete_object()
        .bucket(&bucket)
        .key(&stored[0].0)
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = s3
            .put_object()
            .bucket(&bucket)
            .key(&full_key)
            .body(ByteStream::from(pattern(mb3, 99)))
            .send()
            .await;
        match r {
            Ok(_) => break,
            Err(e) => {
                let info = err_info::<(), _>(Err(e));
                assert_eq!(info.status, 507, "{info:?}");
                assert!(Instant::now() < deadline, "space never came back");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    assert_eq!(get_bytes(&s3, &bucket, &full_key).await, pattern(mb3, 99));
    drop(srv);
}
