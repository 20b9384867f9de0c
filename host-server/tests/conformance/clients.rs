//! Signed API clients: records, nonces spent once, subscriptions.

use std::sync::Arc;

use solarwire_server::store::clients::NewApiClient;

use super::Backend;

fn client(id: &str, key: u8) -> NewApiClient {
    NewApiClient {
        client_id: id.into(),
        name: format!("{id} report"),
        key: [key; 32],
        created_by: "ada".into(),
    }
}

pub async fn api_clients_and_their_nonces(b: &Backend) {
    let store = &b.store;
    let now = super::b_now(b);
    let added = store.add_client(client("swc_a", 7)).await.unwrap();
    assert_eq!((added.created_ms, added.revoked_ms), (now, None));
    store.add_client(client("swc_b", 8)).await.unwrap();
    let (found, key) = store.client("swc_a").await.unwrap().expect("stored");
    assert_eq!((found, key), (added.clone(), [7; 32]));
    assert!(store.client("swc_none").await.unwrap().is_none());
    let ids: Vec<_> = store
        .clients()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(ids, ["swc_a", "swc_b"]);

    // A nonce is spent once, even when two requests race; unknown clients spend none.
    let (s1, s2) = (Arc::clone(store), Arc::clone(store));
    let (x, y) = tokio::join!(
        tokio::spawn(async move { s1.spend_nonce("swc_a", "n-1", 600_000).await.unwrap() }),
        tokio::spawn(async move { s2.spend_nonce("swc_a", "n-1", 600_000).await.unwrap() }),
    );
    assert_eq!(
        u8::from(x.unwrap()) + u8::from(y.unwrap()),
        1,
        "one of two equal requests wins"
    );
    assert!(
        store.spend_nonce("swc_b", "n-1", 600_000).await.unwrap(),
        "nonces are per client"
    );
    assert!(!store.spend_nonce("swc_none", "n-2", 600_000).await.unwrap());
    // Past its keep time a nonce is forgotten (the timestamp check refuses it by then).
    b.clock.set(now + 600_001);
    assert!(store.spend_nonce("swc_a", "n-1", 600_000).await.unwrap());

    store.subscribe("swc_a", "inv-2").await.unwrap();
    store.subscribe("swc_a", "inv-1").await.unwrap();
    store.subscribe("swc_a", "inv-1").await.unwrap();
    store.subscribe("swc_none", "inv-1").await.unwrap();
    assert_eq!(
        store.subscriptions("swc_a").await.unwrap(),
        ["inv-1", "inv-2"]
    );
    assert!(store.subscriptions("swc_b").await.unwrap().is_empty());

    assert!(store.revoke_client("swc_a").await.unwrap());
    assert!(
        !store.revoke_client("swc_a").await.unwrap(),
        "revoked already"
    );
    let (revoked, _) = store.client("swc_a").await.unwrap().expect("kept");
    assert_eq!(revoked.revoked_ms, Some(now + 600_001));
}
