//! PFS through its HTTP API: repos, branches, commits, files, provenance,
//! dedup, GC and fsck, on SQLite and PostgreSQL.

use strata_api_types::pfs::{CreateBranch, DiffKind, FileKind, FinishCommit};
use strata_client::{ClientError, Workspace};
use strata_testkit::{Backend, TestApp, on_both_backends};

fn ws(app: &TestApp) -> Workspace {
    app.client().workspace("default")
}

fn body(bytes: impl Into<Vec<u8>>) -> reqwest::Body {
    reqwest::Body::from(bytes.into())
}

/// Deterministic bytes that do not compress.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

async fn get_bytes(ws: &Workspace, repo: &str, reference: &str, path: &str) -> Vec<u8> {
    ws.get_file(repo, reference, path, None, None).await.expect("get").bytes().await.expect("bytes").to_vec()
}

fn code(error: &ClientError) -> String {
    match error {
        ClientError::Api { code, .. } => code.clone(),
        other => format!("not an API error: {other}"),
    }
}

async fn put(
    ws: &Workspace,
    repo: &str,
    reference: &str,
    path: &str,
    data: impl Into<Vec<u8>>,
) -> strata_api_types::pfs::PutSummary {
    ws.put(repo, reference, path, false, false, body(data)).await.expect("put")
}

on_both_backends! {
    async fn files_round_trip_byte_for_byte_and_by_range(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let ws = ws(&app);
        ws.repo_create("data", "raw data").await.expect("create");
        let data = noise(3 * 1024 * 1024 + 11, 1);
        let summary = put(&ws, "data", "master", "/blobs/one.bin", data.clone()).await;
        assert!(summary.auto_committed, "a put without an open commit makes its own");
        assert_eq!(summary.bytes, data.len() as u64);
        assert_eq!(get_bytes(&ws, "data", "master", "/blobs/one.bin").await, data);
        let range = ws.get_file("data", "master", "/blobs/one.bin", Some(1_000_000), Some(2_000_000)).await.expect("range");
        assert_eq!(range.bytes().await.expect("bytes").as_ref(), &data[1_000_000..3_000_000]);
        let info = ws.file_inspect("data", "master", "/blobs/one.bin").await.expect("inspect");
        assert_eq!((info.kind, info.size), (FileKind::File, data.len() as u64));
        assert_eq!(info.hash, blake3::hash(&data).to_hex().to_string());
    }
}

on_both_backends! {
    async fn commits_group_writes_and_refuse_writes_once_finished(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let ws = ws(&app);
        ws.repo_create("logs", "").await.expect("create");
        let commit = ws.commit_start("logs", "master", "two files").await.expect("start");
        let second = ws.commit_start("logs", "master", "").await.expect_err("one open commit per branch");
        assert_eq!(code(&second), "CONFLICT");
        put(&ws, "logs", "master", "/a.txt", "alpha").await;
        put(&ws, "logs", &commit.id, "/b.txt", "beta").await;
        let finished = ws.commit_finish("logs", "master", &FinishCommit::default()).await.expect("finish");
        assert_eq!((finished.id.clone(), finished.files), (commit.id.clone(), 2));
        let again = ws.commit_finish("logs", &commit.id, &FinishCommit::default()).await.expect_err("finished twice");
        assert_eq!(code(&again), "CONFLICT");
        let late = ws.put("logs", &commit.id, "/c.txt", false, false, body("late")).await.expect_err("finished commit");
        assert_eq!(code(&late), "CONFLICT");
        assert!(late.to_string().contains("start a new commit"), "{late}");
        assert_eq!(ws.commit_list("logs", 10).await.expect("list").len(), 1);
    }
}

on_both_backends! {
    async fn listing_globbing_and_diffing_see_files_and_directories(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let ws = ws(&app);
        ws.repo_create("tree", "").await.expect("create");
        ws.commit_start("tree", "master", "").await.expect("start");
        for path in ["/a.txt", "/dir/x.csv", "/dir/y.csv", "/dir/sub/z.csv", "/other/w.txt"] {
            put(&ws, "tree", "master", path, format!("content of {path}")).await;
        }
        ws.commit_finish("tree", "master", &FinishCommit::default()).await.expect("finish");

        let root = ws.file_list("tree", "master", "/").await.expect("list");
        let names: Vec<(&str, FileKind)> = root.iter().map(|f| (f.path.as_str(), f.kind)).collect();
        assert_eq!(names, [("/a.txt", FileKind::File), ("/dir", FileKind::Dir), ("/other", FileKind::Dir)]);
        let dir = root.iter().find(|f| f.path == "/dir").expect("dir");
        assert_eq!(dir.size, ["/dir/x.csv", "/dir/y.csv", "/dir/sub/z.csv"].iter().map(|p| format!("content of {p}").len() as u64).sum::<u64>());

        let top: Vec<String> = ws.file_glob("tree", "master", "/*").await.expect("glob").into_iter().map(|f| f.path).collect();
        assert_eq!(top, ["/a.txt", "/dir", "/other"]);
        let csvs: Vec<String> = ws.file_glob("tree", "master", "/dir/**.csv").await.expect("glob").into_iter().map(|f| f.path).collect();
        assert_eq!(csvs, ["/dir/sub/z.csv", "/dir/x.csv", "/dir/y.csv"]);
        let whole = ws.file_glob("tree", "master", "/").await.expect("glob");
        assert_eq!((whole.len(), whole[0].kind), (1, FileKind::Dir));

        put(&ws, "tree", "master", "/dir/x.csv", "changed").await;
        ws.file_delete("tree", "master", "/other").await.expect("delete dir");
        put(&ws, "tree", "master", "/new.txt", "new").await;
        let diff = ws.file_diff("tree", "master", "/", Some(("tree", "master~3"))).await.expect("diff");
        let changes: Vec<(&str, DiffKind)> = diff.iter().map(|d| (d.path.as_str(), d.change)).collect();
        assert_eq!(changes, [("/dir/x.csv", DiffKind::Modified), ("/new.txt", DiffKind::Added), ("/other/w.txt", DiffKind::Removed)]);
        let last = ws.file_diff("tree", "master", "/", None).await.expect("diff vs parent");
        assert_eq!(last.len(), 1, "only the last commit's change: {last:?}");
    }
}

on_both_backends! {
    async fn commit_references_walk_history(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let ws = ws(&app);
        ws.repo_create("hist", "").await.expect("create");
        let mut ids = Vec::new();
        for version in 1..=4 {
            ids.push(put(&ws, "hist", "master", "/v.txt", format!("v{version}")).await.commit);
        }
        for (reference, expected) in [("master", 3), ("master^", 2), ("master~2", 1), ("master^^^", 0), ("master.1", 0), ("master.4", 3)] {
            assert_eq!(ws.commit_inspect("hist", reference).await.expect(reference).id, ids[expected], "{reference}");
        }
        assert_eq!(get_bytes(&ws, "hist", "master^", "/v.txt").await, b"v3");
        let missing = ws.commit_inspect("hist", "master~9").await.expect_err("too far back");
        assert_eq!(code(&missing), "NOT_FOUND");
        let history = ws.file_history("hist", "master", "/v.txt", 10).await.expect("history");
        assert_eq!(history.len(), 4);
    }
}

on_both_backends! {
    async fn provenance_propagates_commit_sets_and_protects_upstream(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let ws = ws(&app);
        ws.repo_create("raw", "").await.expect("raw");
        ws.repo_create("clean", "").await.expect("clean");
        put(&ws, "raw", "master", "/x", "1").await;
        let branch = CreateBranch { name: "master".into(), head: None, provenance: vec!["raw@master".into()] };
        let created = ws.branch_create("clean", &branch).await.expect("branch with provenance");
        assert_eq!(created.provenance, ["raw@master"]);
        let upstream = ws.commit_start("raw", "master", "").await.expect("start upstream");
        let downstream = ws.commit_inspect("clean", "master").await.expect("auto commit");
        assert_eq!(downstream.id, upstream.id, "one commit set");
        assert_eq!(downstream.origin, "AUTO");
        assert_eq!(downstream.provenance, [format!("raw@{}", upstream.id)]);
        assert_eq!(ws.commit_set(&upstream.id).await.expect("set").len(), 2);
        put(&ws, "raw", &upstream.id, "/y", "2").await;
        ws.commit_finish("raw", &upstream.id, &FinishCommit::default()).await.expect("finish upstream");
        let followed = ws.commit_inspect("clean", &upstream.id).await.expect("downstream");
        assert!(followed.finished_at.is_some(), "a plain provenance branch follows its upstream");
        let next = put(&ws, "raw", "master", "/z", "3").await;
        assert_eq!(ws.commit_inspect("clean", "master").await.expect("head").id, next.commit, "and keeps following");
        let refused = ws.repo_delete("raw", false).await.expect_err("others depend on it");
        assert_eq!(code(&refused), "CONFLICT");
        let cycle = CreateBranch { name: "master".into(), head: None, provenance: vec!["clean@master".into()] };
        assert_eq!(code(&ws.branch_create("raw", &cycle).await.expect_err("cycle")), "INVALID_ARGUMENT");
        assert_eq!(ws.repo_delete("raw", true).await.expect("forced"), ["raw"]);
    }
}

on_both_backends! {
    async fn squash_keeps_descendants_and_drop_moves_the_head_back(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let ws = ws(&app);
        ws.repo_create("sq", "").await.expect("create");
        let first = put(&ws, "sq", "master", "/a", "a").await.commit;
        let second = put(&ws, "sq", "master", "/b", "b").await.commit;
        let third = put(&ws, "sq", "master", "/c", "c").await.commit;
        ws.commit_squash("sq", &second).await.expect("squash the middle");
        assert_eq!(ws.commit_inspect("sq", &third).await.expect("third").parent.as_deref(), Some(first.as_str()));
        assert_eq!(get_bytes(&ws, "sq", "master", "/b").await, b"b", "no data lost from descendants");
        assert_eq!(code(&ws.commit_squash("sq", &third).await.expect_err("no children")), "CONFLICT");
        ws.commit_drop("sq", &third).await.expect("drop the head");
        assert_eq!(ws.commit_inspect("sq", "master").await.expect("head").id, first);
    }
}

on_both_backends! {
    async fn identical_data_is_stored_once_and_copies_cost_nothing(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let ws = ws(&app);
        ws.repo_create("dup", "").await.expect("create");
        let data = noise(2 * 1024 * 1024, 9);
        let first = put(&ws, "dup", "master", "/one", data.clone()).await;
        assert!(first.stored_bytes > 0);
        let second = put(&ws, "dup", "master", "/two", data.clone()).await;
        assert_eq!(second.stored_bytes, 0, "the same bytes are stored once");
        let before = ws.storage().await.expect("storage")["chunks"];
        let copy = strata_api_types::pfs::CopyFile { src_repo: "dup".into(), src_ref: "master".into(), src_path: "/one".into(), dst_path: "/three".into() };
        ws.file_copy("dup", "master", &copy).await.expect("copy");
        assert_eq!(ws.storage().await.expect("storage")["chunks"], before, "copy writes no chunk");
        assert_eq!(get_bytes(&ws, "dup", "master", "/three").await, data);
        let storage = ws.repo_inspect("dup").await.expect("inspect").storage.expect("storage figures");
        assert_eq!(storage.logical_bytes, 3 * data.len() as u64);
        assert!(storage.stored_bytes <= data.len() as u64 + 1024, "three copies stored once: {storage:?}");
    }
}

on_both_backends! {
    async fn appending_extends_a_file(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let ws = ws(&app);
        ws.repo_create("app", "").await.expect("create");
        put(&ws, "app", "master", "/log", "line 1\n").await;
        ws.put("app", "master", "/log", false, true, body("line 2\n")).await.expect("append");
        assert_eq!(get_bytes(&ws, "app", "master", "/log").await, b"line 1\nline 2\n");
        let info = ws.file_inspect("app", "master", "/log").await.expect("inspect");
        assert_eq!(info.hash, blake3::hash(b"line 1\nline 2\n").to_hex().to_string());
    }
}

on_both_backends! {
    async fn gc_reclaims_deleted_data_and_fsck_stays_clean(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let ws = ws(&app);
        ws.repo_create("keep", "").await.expect("keep");
        ws.repo_create("scrap", "").await.expect("scrap");
        put(&ws, "keep", "master", "/k", noise(1024 * 1024, 3)).await;
        put(&ws, "scrap", "master", "/s", noise(3 * 1024 * 1024, 4)).await;
        let before = ws.storage().await.expect("storage")["chunks"];
        ws.repo_delete("scrap", false).await.expect("delete");
        let report = ws.gc(0).await.expect("gc");
        assert!(report.objects_deleted > 0);
        let after = ws.storage().await.expect("storage")["chunks"];
        assert!(after + 3 * 1024 * 1024 <= before + 1024, "{before} -> {after}");
        assert!(ws.fsck().await.expect("fsck").problems.is_empty());
        assert_eq!(get_bytes(&ws, "keep", "master", "/k").await, noise(1024 * 1024, 3));
    }
}

#[tokio::test]
async fn a_corrupted_chunk_is_found_by_fsck_and_refused_by_get() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ws = ws(&app);
    ws.repo_create("fragile", "").await.expect("create");
    put(&ws, "fragile", "master", "/f", noise(512 * 1024, 5)).await;
    let chunks = app.data_dir.join("objects/workspaces/default/chunks");
    let chunk = walk_files(&chunks).into_iter().next().expect("a chunk file");
    let mut stored = std::fs::read(&chunk).expect("read chunk");
    let middle = stored.len() / 2;
    stored[middle] ^= 0xff;
    std::fs::write(&chunk, stored).expect("corrupt");
    let report = ws.fsck().await.expect("fsck runs");
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(report.problems[0].contains("data corrupted"), "{}", report.problems[0]);
    let error = ws.get_file("fragile", "master", "/f", None, None).await.expect_err("bad bytes are never served");
    assert_eq!(code(&error), "DATA_CORRUPTED");
}

fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() { out.extend(walk_files(&path)) } else { out.push(path) }
    }
    out
}

#[tokio::test]
async fn an_upload_cut_off_mid_stream_commits_nothing() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ws = ws(&app);
    ws.repo_create("cut", "").await.expect("create");
    put(&ws, "cut", "master", "/before", "intact").await;
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
    let request = "PUT /v1/workspaces/default/repos/cut/refs/master/files/partial HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000\r\n\r\n";
    stream.write_all(request.as_bytes()).await.expect("headers");
    stream.write_all(&[7u8; 1000]).await.expect("some body");
    // The body ends here; the server's end of the connection closes once it
    // has given up on the request, and then nothing more can come of it.
    stream.shutdown().await.expect("cut the body off");
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(std::time::Duration::from_secs(30), stream.read_to_end(&mut answer)).await;
    assert!(closed.is_ok(), "the server still holds the cut-off upload open");
    let commits = ws.commit_list("cut", 10).await.expect("list");
    assert_eq!(commits.len(), 1, "no commit for the broken upload: {commits:?}");
    assert!(commits.iter().all(|c| c.finished_at.is_some()));
    assert!(ws.file_inspect("cut", "master", "/partial").await.is_err());
    assert_eq!(get_bytes(&ws, "cut", "master", "/before").await, b"intact");
}

#[tokio::test]
async fn bad_names_and_paths_are_rejected_with_the_reason() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ws = ws(&app);
    let bad_name = ws.repo_create("no spaces", "").await.expect_err("bad name");
    assert_eq!(code(&bad_name), "INVALID_ARGUMENT");
    ws.repo_create("ok", "").await.expect("create");
    assert_eq!(code(&ws.repo_create("ok", "").await.expect_err("duplicate")), "ALREADY_EXISTS");
    let glob_path = ws.put("ok", "master", "/a*b", false, false, body("x")).await.expect_err("glob char");
    assert_eq!(code(&glob_path), "INVALID_ARGUMENT");
    assert!(glob_path.to_string().contains('*'), "{glob_path}");
    assert_eq!(code(&ws.repo_inspect("nope").await.expect_err("unknown repo")), "NOT_FOUND");
    assert_eq!(code(&ws.commit_inspect("ok", "nobranch").await.expect_err("unknown branch")), "NOT_FOUND");
    let other_workspace = app.client().workspace("elsewhere").repo_list().await.expect_err("unknown workspace");
    assert_eq!(code(&other_workspace), "NOT_FOUND");
}

#[tokio::test]
async fn an_object_store_failing_mid_upload_leaves_no_commit() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ws = ws(&app);
    ws.repo_create("flaky", "").await.expect("create");
    put(&ws, "flaky", "master", "/ok", "fine").await;
    // Chunks live under chunks/<2 hex>/; turning half of those prefixes into
    // plain files makes every other chunk write fail, as a disk or bucket
    // that breaks partway through an upload would.
    let chunks = app.data_dir.join("objects/workspaces/default/chunks");
    let blocked: Vec<std::path::PathBuf> =
        (0..=255u8).filter(|b| b % 2 == 0).map(|b| chunks.join(format!("{b:02x}"))).filter(|p| !p.exists()).collect();
    for path in &blocked {
        std::fs::write(path, b"blocked").expect("block prefix");
    }
    let error = ws
        .put("flaky", "master", "/big", false, false, body(noise(24 * 1024 * 1024, 11)))
        .await
        .expect_err("store fails");
    assert_eq!(code(&error), "STORAGE_UNAVAILABLE", "{error}");
    let commits = ws.commit_list("flaky", 10).await.expect("list");
    assert_eq!(commits.len(), 1, "the failed write left no commit");
    ws.repo_create("fresh", "").await.expect("create");
    let first = ws
        .put("fresh", "master", "/big", false, false, body(noise(24 * 1024 * 1024, 12)))
        .await
        .expect_err("store fails");
    assert_eq!(code(&first), "STORAGE_UNAVAILABLE");
    assert!(ws.branch_list("fresh").await.expect("branches").is_empty(), "a failed first write leaves no branch");
    assert!(ws.file_inspect("flaky", "master", "/big").await.is_err());
    for path in &blocked {
        std::fs::remove_file(path).expect("unblock");
    }
    put(&ws, "flaky", "master", "/big", noise(24 * 1024 * 1024, 11)).await;
    assert_eq!(get_bytes(&ws, "flaky", "master", "/big").await, noise(24 * 1024 * 1024, 11));
    assert!(ws.fsck().await.expect("fsck").problems.is_empty());
}

on_both_backends! {
    async fn concurrent_writers_never_lose_an_acknowledged_write(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let ws = ws(&app);
        ws.repo_create("busy", "").await.expect("create");
        let writes = (0..8).map(|i| {
            let ws = ws.clone();
            async move { (i, ws.put("busy", "master", &format!("/w{i}"), false, false, body(format!("writer {i}"))).await) }
        });
        let results = futures::future::join_all(writes).await;
        let mut acknowledged = Vec::new();
        for (i, result) in results {
            match result {
                Ok(_) => acknowledged.push(i),
                Err(error) => assert_eq!(code(&error), "CONFLICT", "writer {i}: {error}"),
            }
        }
        assert!(!acknowledged.is_empty());
        // Finish any commit a writer left open by joining another's.
        if let Ok(head) = ws.commit_inspect("busy", "master").await
            && head.finished_at.is_none()
        {
            ws.commit_finish("busy", &head.id, &FinishCommit::default()).await.expect("finish");
        }
        for i in acknowledged {
            assert_eq!(get_bytes(&ws, "busy", "master", &format!("/w{i}")).await, format!("writer {i}").into_bytes());
        }
        let starts = futures::future::join_all((0..4).map(|_| ws.commit_start("busy", "master", ""))).await;
        assert_eq!(starts.iter().filter(|r| r.is_ok()).count(), 1, "one open commit per branch");
    }
}
