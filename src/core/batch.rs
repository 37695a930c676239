//! Encoded records and request bodies. (Types fixed; being written.)

/// A record already validated, anonymized and encoded as compact JSON: what is stored and sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedRecord {
    /// The record's `response_id`: its idempotency key, fixed for every retry.
    pub response_id: String,
    /// The record as JSON text: `{"service_key":...,"response_id":...,...}`.
    pub json: String,
}
