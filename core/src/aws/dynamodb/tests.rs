use std::collections::HashMap;

use futures::executor::block_on;
use serde_json::json;

use super::attr::{self, item};
use super::*;
use crate::aws::fake_dynamodb::FakeDynamo;
use crate::secret::Secret;

const TABLE: &str = "dx-state";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "FwoGZXIvYXdzEXAMPLEsessiontoken==";

struct Vars(HashMap<&'static str, &'static str>);

impl Env for Vars {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| v.to_string())
    }
}

fn lambda_env() -> Vars {
    Vars(HashMap::from([
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLEKEYID0001"),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_SESSION_TOKEN", TOKEN),
    ]))
}

fn client(fake: &FakeDynamo) -> DynamoDb<FakeDynamo> {
    DynamoDb::new(
        fake.clone(),
        DynamoDbConfig::from_env(&lambda_env()).unwrap(),
    )
}

#[test]
fn config_comes_from_what_lambda_sets() {
    let c = DynamoDbConfig::from_env(&lambda_env()).unwrap();
    assert_eq!(c.endpoint, "https://dynamodb.eu-west-1.amazonaws.com");
    assert_eq!(c.region, "eu-west-1");
    assert_eq!(c.credentials.session_token, Some(Secret::new(TOKEN)));

    let mut env = lambda_env();
    env.0.insert(ENDPOINT_ENV, "http://127.0.0.1:8000/");
    env.0.remove("AWS_REGION");
    env.0.insert("AWS_DEFAULT_REGION", "us-east-2");
    let c = DynamoDbConfig::from_env(&env).unwrap();
    assert_eq!(
        (c.endpoint.as_str(), c.region.as_str()),
        ("http://127.0.0.1:8000", "us-east-2")
    );

    env.0.remove("AWS_DEFAULT_REGION");
    assert!(DynamoDbConfig::from_env(&env)
        .unwrap_err()
        .contains("AWS_REGION"));
    let mut env = lambda_env();
    env.0.remove("AWS_SECRET_ACCESS_KEY");
    let e = DynamoDbConfig::from_env(&env).unwrap_err();
    assert!(
        e.contains("AWS_SECRET_ACCESS_KEY") && !e.contains("ASIAEXAMPLE"),
        "{e}"
    );
    // Debug output of the config hides every credential
    let shown = format!("{:?}", DynamoDbConfig::from_env(&lambda_env()).unwrap());
    assert!(!shown.contains(SECRET) && !shown.contains(TOKEN) && !shown.contains("ASIAEXAMPLE"));
}

#[test]
fn requests_are_json_1_0_signed_for_dynamodb() {
    let fake = FakeDynamo::with_table(TABLE);
    let db = client(&fake);
    let got = block_on(db.get_item(
        TABLE,
        item([("pk", attr::s("catalog"))]),
        Read {
            consistent: true,
            attributes: &["version", "data"],
        },
    ))
    .unwrap();
    assert_eq!(got, None);
    let call = &fake.calls()[0];
    assert_eq!(call.uri, "https://dynamodb.eu-west-1.amazonaws.com/");
    let h = &call.headers;
    assert_eq!(h["x-amz-target"], "DynamoDB_20120810.GetItem");
    assert_eq!(h["content-type"], "application/x-amz-json-1.0");
    assert_eq!(h["x-amz-date"], "20150830T123600Z");
    assert_eq!(h["x-amz-security-token"], TOKEN);
    let auth = h["authorization"].to_str().unwrap();
    assert!(
        auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEKEYID0001/20150830/eu-west-1/dynamodb/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature="
        ),
        "{auth}"
    );
    assert_eq!(
        call.body,
        json!({
            "TableName": TABLE,
            "Key": {"pk": {"S": "catalog"}},
            "ConsistentRead": true,
            "ProjectionExpression": "#a0, #a1",
            "ExpressionAttributeNames": {"#a0": "version", "#a1": "data"},
        })
    );
    // The signature covers the body: another body, another signature.
    block_on(db.get_item(TABLE, item([("pk", attr::s("other"))]), Read::default())).unwrap();
    let second = &fake.calls()[1];
    assert_ne!(
        second.headers["authorization"],
        call.headers["authorization"]
    );
    assert_eq!(
        second.body,
        json!({"TableName": TABLE, "Key": {"pk": {"S": "other"}}})
    );
}

#[test]
fn put_get_delete_and_conditions() {
    let fake = FakeDynamo::with_table(TABLE);
    let db = client(&fake);
    let key = || item([("pk", attr::s("k"))]);
    let first = Condition::new("attribute_not_exists(pk)");
    let v1 = item([
        ("pk", attr::s("k")),
        ("version", attr::s("1")),
        ("n", attr::n(7)),
    ]);
    block_on(db.put_item(TABLE, v1.clone(), Some(first.clone()))).unwrap();
    assert_eq!(
        fake.calls()[0].headers["x-amz-target"],
        "DynamoDB_20120810.PutItem"
    );
    assert_eq!(
        fake.calls()[0].body["ConditionExpression"],
        "attribute_not_exists(pk)"
    );
    let e = block_on(db.put_item(TABLE, v1.clone(), Some(first))).unwrap_err();
    assert!(e.is_conditional_check_failed(), "{e}");
    assert_eq!(
        e.to_string(),
        "DynamoDB PutItem: ConditionalCheckFailedException (HTTP 400): The conditional request failed"
    );

    let got = block_on(db.get_item(TABLE, key(), Read::default()))
        .unwrap()
        .unwrap();
    assert_eq!(attr::get_n::<u64>(&got, "n"), Some(7));

    let only_v1 = Condition::new("#v = :v")
        .name("#v", "version")
        .value(":v", attr::s("1"));
    let v2 = item([("pk", attr::s("k")), ("version", attr::s("2"))]);
    block_on(db.put_item(TABLE, v2.clone(), Some(only_v1.clone()))).unwrap();
    let calls = fake.calls();
    let body = &calls.last().unwrap().body;
    assert_eq!(body["ExpressionAttributeNames"], json!({"#v": "version"}));
    assert_eq!(body["ExpressionAttributeValues"], json!({":v": {"S": "1"}}));
    assert!(block_on(db.put_item(TABLE, v2, Some(only_v1)))
        .unwrap_err()
        .is_conditional_check_failed());

    block_on(db.delete_item(TABLE, key(), None)).unwrap();
    assert_eq!(
        fake.calls().last().unwrap().headers["x-amz-target"],
        "DynamoDB_20120810.DeleteItem"
    );
    assert_eq!(
        block_on(db.get_item(TABLE, key(), Read::default())).unwrap(),
        None
    );
    block_on(db.delete_item(TABLE, key(), None)).expect("deleting nothing is fine");
}

#[test]
fn errors_name_the_exception_and_never_the_credentials() {
    let fake = FakeDynamo::with_table(TABLE);
    let db = client(&fake);
    let e = block_on(db.get_item(
        "no-such-table",
        item([("pk", attr::s("k"))]),
        Read::default(),
    ))
    .unwrap_err();
    assert_eq!(e.error_type(), Some("ResourceNotFoundException"));
    assert_eq!(e.operation, "GetItem");

    // An answer that quotes the credentials has them redacted.
    fake.inject(
        400,
        &json!({"__type": "com.amazon.coral.service#UnrecognizedClientException",
                "Message": format!("bad key ASIAEXAMPLEKEYID0001 / {SECRET} / {TOKEN}")})
        .to_string(),
    );
    let e =
        block_on(db.get_item(TABLE, item([("pk", attr::s("k"))]), Read::default())).unwrap_err();
    assert_eq!(e.error_type(), Some("UnrecognizedClientException"));
    let text = e.to_string();
    assert!(text.contains("bad key [redacted]"), "{text}");
    assert!(!text.contains(SECRET) && !text.contains(TOKEN) && !text.contains("ASIAEXAMPLE"));

    fake.inject(200, "<html>not json</html>");
    let e =
        block_on(db.get_item(TABLE, item([("pk", attr::s("k"))]), Read::default())).unwrap_err();
    assert!(matches!(e.kind, DynamoErrorKind::BadResponse(_)), "{e}");
}

#[test]
fn throttling_is_retried_with_backoff_then_given_up() {
    let fake = FakeDynamo::with_table(TABLE);
    let db = client(&fake);
    let throttled =
        json!({"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                           "message": "slow down"})
        .to_string();
    fake.inject(400, &throttled);
    fake.inject(
        500,
        r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError"}"#,
    );
    block_on(db.put_item(TABLE, item([("pk", attr::s("k"))]), None)).expect("third attempt");
    assert_eq!(fake.calls().len(), 3);
    assert_eq!(fake.sleeps(), vec![50, 100]);

    for _ in 0..3 {
        fake.inject(400, &throttled);
    }
    let e = block_on(db.put_item(TABLE, item([("pk", attr::s("k"))]), None)).unwrap_err();
    assert_eq!(
        e.error_type(),
        Some("ProvisionedThroughputExceededException")
    );
    assert_eq!(fake.calls().len(), 6, "three attempts, no more");

    // A refusal is final at once.
    let e = block_on(db.put_item(
        TABLE,
        item([("pk", attr::s("k"))]),
        Some(Condition::new("attribute_not_exists(pk)")),
    ))
    .unwrap_err();
    assert!(e.is_conditional_check_failed());
    assert_eq!(fake.calls().len(), 7);
}

#[test]
fn a_silent_dynamodb_times_out() {
    let fake = FakeDynamo::with_table(TABLE);
    let db = client(&fake);
    fake.hang(true);
    let e =
        block_on(db.get_item(TABLE, item([("pk", attr::s("k"))]), Read::default())).unwrap_err();
    assert_eq!(e.kind, DynamoErrorKind::Timeout(5_000));
    assert_eq!(e.to_string(), "DynamoDB GetItem: no answer within 5000 ms");
    assert_eq!(fake.calls().len(), 1, "a timeout is not retried");
}

#[test]
fn backoff_doubles_up_to_a_second() {
    let got: Vec<u64> = (1..=7).map(backoff_ms).collect();
    assert_eq!(got, vec![50, 100, 200, 400, 800, 1_000, 1_000]);
}
