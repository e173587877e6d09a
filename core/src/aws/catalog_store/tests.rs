use futures::executor::block_on;
use serde_json::json;

use super::*;
use crate::aws::credentials::AwsCredentials;
use crate::aws::dynamodb::DynamoDbConfig;
use crate::aws::fake_dynamodb::{item_size, FakeDynamo, ITEM_LIMIT};
use crate::catalog::refresh::{sync_stored, version_of, RefreshConfig, SyncMemory, SyncOutcome};
use crate::catalog::{self, EMBEDDED_TEXT};
use crate::secret::Secret;

const TABLE: &str = "dx-state";

fn store(fake: &FakeDynamo) -> DynamoCatalogStore<FakeDynamo> {
    let config = DynamoDbConfig {
        endpoint: "http://dynamodb.local:8000".into(),
        region: "us-east-1".into(),
        credentials: AwsCredentials {
            access_key_id: Secret::new("AKIDEXAMPLE"),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: None,
        },
        timeout_ms: 1_000,
        max_attempts: 1,
    };
    DynamoCatalogStore::new(DynamoDb::new(fake.clone(), config), TABLE)
}

fn stored(text: &str) -> Stored {
    Stored {
        version: version_of(text),
        text: text.to_owned(),
    }
}

/// The embedded catalog under another description: a valid, different copy.
fn other_text(tag: &str) -> String {
    EMBEDDED_TEXT.replacen("#dx-catalog\t1\t", &format!("#dx-catalog\t1\t{tag} "), 1)
}

/// `(operation, pk)` of every call so far.
fn ops(fake: &FakeDynamo) -> Vec<(String, String)> {
    fake.calls()
        .into_iter()
        .map(|c| (c.operation, c.pk.unwrap_or_default()))
        .collect()
}

fn op(o: &str, pk: &str) -> (String, String) {
    (o.to_owned(), pk.to_owned())
}

#[test]
fn the_catalog_is_saved_in_chunks_below_the_item_limit_and_loads_back() {
    let fake = FakeDynamo::with_table(TABLE);
    let s = store(&fake);
    let copy = stored(EMBEDDED_TEXT);
    let v = copy.version.clone();
    assert!(
        EMBEDDED_TEXT.len() > 2 * CHUNK_BYTES,
        "the test needs several chunks"
    );
    block_on(s.save(&copy)).unwrap();

    // every chunk before the pointer
    assert_eq!(
        ops(&fake),
        vec![
            op("GetItem", "catalog"),
            op("PutItem", &format!("catalog#{v}#0")),
            op("PutItem", &format!("catalog#{v}#1")),
            op("PutItem", &format!("catalog#{v}#2")),
            op("PutItem", "catalog"),
        ]
    );
    let pointer = fake.item(TABLE, "catalog").unwrap();
    assert_eq!(attr::get_s(&pointer, "version"), Some(v.as_str()));
    assert_eq!(attr::get_n::<usize>(&pointer, "parts"), Some(3));
    assert_eq!(
        attr::get_n::<usize>(&pointer, "bytes"),
        Some(EMBEDDED_TEXT.len())
    );
    for n in 0..3 {
        let chunk = fake.item(TABLE, &format!("catalog#{v}#{n}")).unwrap();
        assert!(
            item_size(&chunk) < ITEM_LIMIT * 7 / 10,
            "chunk {n}: {}",
            item_size(&chunk)
        );
    }
    assert_eq!(block_on(s.load()).unwrap(), Some(copy));
}

#[test]
fn polling_the_version_is_one_small_eventually_consistent_read() {
    let fake = FakeDynamo::with_table(TABLE);
    let s = store(&fake);
    assert_eq!(block_on(s.version()).unwrap(), None);
    block_on(s.save(&stored(EMBEDDED_TEXT))).unwrap();
    fake.clear_calls();
    assert_eq!(
        block_on(s.version()).unwrap(),
        Some(version_of(EMBEDDED_TEXT))
    );
    let calls = fake.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].operation, "GetItem");
    assert_eq!(calls[0].body.get("ConsistentRead"), None);
    assert_eq!(
        calls[0].body["ExpressionAttributeNames"],
        json!({"#a0": "version"})
    );
}

#[test]
fn a_new_version_deletes_the_old_chunks_only_after_the_pointer_moved() {
    let fake = FakeDynamo::with_table(TABLE);
    let s = store(&fake);
    let v1 = stored(EMBEDDED_TEXT);
    let v2 = stored(&other_text("second"));
    block_on(s.save(&v1)).unwrap();
    fake.clear_calls();
    block_on(s.save(&v2)).unwrap();
    let (a, b) = (&v1.version, &v2.version);
    assert_eq!(
        ops(&fake),
        vec![
            op("GetItem", "catalog"),
            op("PutItem", &format!("catalog#{b}#0")),
            op("PutItem", &format!("catalog#{b}#1")),
            op("PutItem", &format!("catalog#{b}#2")),
            op("PutItem", "catalog"),
            op("DeleteItem", &format!("catalog#{a}#0")),
            op("DeleteItem", &format!("catalog#{a}#1")),
            op("DeleteItem", &format!("catalog#{a}#2")),
        ]
    );
    // the pointer moved from exactly the version read before
    let put = &fake.calls()[4].body;
    assert_eq!(put["ConditionExpression"], "#v = :v");
    assert_eq!(put["ExpressionAttributeValues"][":v"], json!({"S": a}));
    let mut want = vec!["catalog".to_owned()];
    want.extend((0..3).map(|n| format!("catalog#{b}#{n}")));
    assert_eq!(fake.keys(TABLE), want);
    assert_eq!(block_on(s.load()).unwrap(), Some(v2.clone()));

    // Saving the version already stored rewrites it and deletes nothing.
    fake.clear_calls();
    block_on(s.save(&v2)).unwrap();
    assert!(ops(&fake).iter().all(|(o, _)| o != "DeleteItem"));
    assert_eq!(fake.keys(TABLE), want);
    assert_eq!(block_on(s.load()).unwrap(), Some(v2));
}

#[test]
fn missing_short_or_tampered_chunks_are_errors_never_installs() {
    let installed = catalog::Installed::default();
    let fake = FakeDynamo::with_table(TABLE);
    let s = store(&fake);
    let text = other_text("stored");
    let v = version_of(&text);
    block_on(s.save(&stored(&text))).unwrap();
    let chunk1 = format!("catalog#{v}#1");
    let original = fake.item(TABLE, &chunk1).unwrap();
    let cfg = RefreshConfig::default();
    let refused = |why: &str| {
        let memory = SyncMemory::default();
        let e = block_on(sync_stored(&s, &cfg, &memory, &installed)).unwrap_err();
        assert!(e.contains(why), "{e}");
        assert!(std::ptr::eq(installed.current(), catalog::embedded()));
    };

    fake.remove(TABLE, &chunk1);
    let e = block_on(s.load()).unwrap_err();
    assert!(e.contains("lacks some of its 3 parts"), "{e}");
    refused("lacks");

    let data = attr::get_b(&original, "data").unwrap();
    fake.put(
        TABLE,
        item([("pk", attr::s(&chunk1)), ("data", attr::b(&data[1..]))]),
    );
    refused("bytes, its pointer says");

    let mut flipped = data.clone();
    flipped[10] ^= 0x01; // same length, other text: caught by the version tag
    fake.put(
        TABLE,
        item([("pk", attr::s(&chunk1)), ("data", attr::b(&flipped))]),
    );
    assert!(block_on(s.load()).unwrap().is_some());
    refused("does not match its version tag");

    let mut broken = data.clone();
    broken[10] = 0xff;
    fake.put(
        TABLE,
        item([("pk", attr::s(&chunk1)), ("data", attr::b(&broken))]),
    );
    refused("not UTF-8");

    fake.put(
        TABLE,
        item([("pk", attr::s(&chunk1)), ("data", attr::s("text"))]),
    );
    refused("is not binary");

    fake.put(TABLE, original);
    let pointer = fake.item(TABLE, "catalog").unwrap();
    let mut huge = pointer.clone();
    huge.insert("parts".into(), attr::n(100_000));
    fake.put(TABLE, huge);
    refused("implausible");
    fake.put(
        TABLE,
        item([("pk", attr::s("catalog")), ("version", attr::s(&v))]),
    );
    refused("malformed");

    // Put back whole, the copy is installed.
    fake.put(TABLE, pointer);
    let memory = SyncMemory::default();
    assert_eq!(
        block_on(sync_stored(&s, &cfg, &memory, &installed)),
        Ok(SyncOutcome::Installed { version: v.clone() })
    );
    assert!(installed.current().source().starts_with("stored "));
    assert_eq!(installed.current().version(), v);
    assert_eq!(
        installed.current().provider_count(),
        catalog::embedded().provider_count()
    );
}

#[test]
fn a_reader_follows_a_pointer_that_moved_while_it_read() {
    let fake = FakeDynamo::with_table(TABLE);
    let s = store(&fake);
    let v1 = stored(EMBEDDED_TEXT);
    block_on(s.save(&v1)).unwrap();
    let stale_pointer = fake.item(TABLE, "catalog").unwrap();
    let v2 = stored(&other_text("newer"));
    block_on(s.save(&v2)).unwrap();
    // The reader saw the pointer before the save; v1's chunks are gone since.
    fake.inject(200, &json!({ "Item": stale_pointer }).to_string());
    assert_eq!(block_on(s.load()).unwrap(), Some(v2));
}

#[test]
fn of_two_concurrent_saves_one_fails_and_the_other_stays() {
    let fake = FakeDynamo::with_table(TABLE);
    let s = store(&fake);
    let v1 = stored(EMBEDDED_TEXT);
    block_on(s.save(&v1)).unwrap();
    // This save read the pointer before v1 was saved.
    fake.inject(200, "{}");
    let e = block_on(s.save(&stored(&other_text("late")))).unwrap_err();
    assert!(
        e.contains("another refresh saved a catalog meanwhile"),
        "{e}"
    );
    assert_eq!(block_on(s.load()).unwrap(), Some(v1));
}

#[test]
fn a_malformed_pointer_is_replaced_by_the_next_save() {
    let fake = FakeDynamo::with_table(TABLE);
    let s = store(&fake);
    fake.put(
        TABLE,
        item([("pk", attr::s("catalog")), ("junk", attr::n(1))]),
    );
    assert!(block_on(s.load()).unwrap_err().contains("malformed"));
    let copy = stored(EMBEDDED_TEXT);
    block_on(s.save(&copy)).unwrap();
    assert_eq!(
        fake.calls().last().unwrap().body["ConditionExpression"],
        "attribute_not_exists(#v)"
    );
    assert_eq!(block_on(s.load()).unwrap(), Some(copy));
}

#[test]
fn storage_failures_surface_as_errors() {
    let fake = FakeDynamo::default(); // no table
    let s = store(&fake);
    let e = block_on(s.version()).unwrap_err();
    assert!(e.contains("ResourceNotFoundException"), "{e}");
    assert!(block_on(s.load()).is_err());
    assert!(block_on(s.save(&stored(EMBEDDED_TEXT))).is_err());
}
