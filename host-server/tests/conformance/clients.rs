//! Conformance bodies for signed API clients: records, revocation, nonces
//! spent once (also under concurrency) and forgotten after their time,
//! subscriptions.

use solarwire_server::store::clients::NewApiClient;

use super::{Backend, T0};

fn client(id: &str) -> NewApiClient {
    NewApiClient {
        client_id: id.to_owned(),
        name: format!("client {id}"),
        key: [7; 32],
        created_by: "tests".into(),
    }
}

pub async fn signed_clients_nonces_and_topics(b: &Backend) {
    let store = &b.store;
    b.clock.set(T0);
    let a = store.add_client(client("swc_a")).await.unwrap();
    assert_eq!(
        (a.client_id.as_str(), a.created_ms, a.revoked_ms),
        ("swc_a", T0, None)
    );
    store.add_client(client("swc_b")).await.unwrap();
    let (found, key) = store.client("swc_a").await.unwrap().unwrap();
    assert_eq!((found, key), (a.clone(), [7; 32]));
    assert!(store.client("swc_none").await.unwrap().is_none());
    let ids: Vec<String> = store
        .clients()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(ids, ["swc_a", "swc_b"]);

    // Eight requests with one nonce at once: one spends it.
    let tries = (0..8).map(|_| store.spend_nonce("swc_a", "nonce-1", 60_000));
    let wins = futures_util::future::join_all(tries)
        .await
        .into_iter()
        .filter(|r| *r.as_ref().unwrap())
        .count();
    assert_eq!(wins, 1);
    // Nonces are per client, and unknown clients spend none.
    assert!(store.spend_nonce("swc_b", "nonce-1", 60_000).await.unwrap());
    assert!(
        !store
            .spend_nonce("swc_none", "nonce-2", 60_000)
            .await
            .unwrap()
    );
    // Remembered while kept, forgotten after.
    b.clock.set(T0 + 59_999);
    assert!(!store.spend_nonce("swc_a", "nonce-1", 60_000).await.unwrap());
    b.clock.set(T0 + 60_000);
    assert!(store.spend_nonce("swc_a", "nonce-1", 60_000).await.unwrap());

    store.subscribe("swc_a", "D2").await.unwrap();
    store.subscribe("swc_a", "D1").await.unwrap();
    store.subscribe("swc_a", "D1").await.unwrap();
    store.subscribe("swc_none", "D1").await.unwrap();
    assert_eq!(store.subscriptions("swc_a").await.unwrap(), ["D1", "D2"]);
    assert!(store.subscriptions("swc_b").await.unwrap().is_empty());

    assert!(store.revoke_client("swc_a").await.unwrap());
    assert!(!store.revoke_client("swc_a").await.unwrap());
    assert!(!store.revoke_client("swc_none").await.unwrap());
    let (revoked, _) = store.client("swc_a").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_ms, Some(T0 + 60_000));
}
