//! AWS without the AWS SDK, so that it also runs on wasm32: SigV4 signing
//! (Bedrock Runtime, DynamoDB), a small DynamoDB client over the
//! [`HttpClient`](crate::ports::HttpClient) port, and what the gateway keeps
//! in DynamoDB (the refreshed model catalog).

pub mod accounts;
pub mod catalog_store;
pub mod credentials;
pub mod dynamodb;
#[cfg(test)]
mod fake_dynamodb;
pub mod kv;
pub mod sigv4;
