//! The push channel: sequence numbers, replay with `after`, gaps, keep-alives, and what
//! produces messages.

use std::collections::HashSet;
use std::time::Duration;

use model::management::EVENT_TYPES;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Sim, config, eventually, new_cardholder};

/// One change of each message type: a cardholder (entity), an event, an alarm.
async fn one_of_each(sim: &Sim) {
    let (status, _) = sim
        .post(&sim.hr("Cardholders"), new_cardholder("Push", "Me"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = sim
        .post(&sim.simapi("Events"), json!({"Type": "Door Forced"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = sim
        .post(&sim.simapi("Alarms"), json!({"AlarmClassToken": "1"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn sequences_start_at_one_and_grow_by_one_across_types() {
    let sim = Sim::start().await;
    let mut push = sim.push(Some(0)).await;
    one_of_each(&sim).await;
    let frames = push.take(3).await;
    let ids: Vec<u64> = frames.iter().map(|f| f.id.unwrap()).collect();
    assert_eq!(ids, vec![1, 2, 3]);
    let kinds: Vec<&str> = frames.iter().map(|f| f.event.as_str()).collect();
    assert_eq!(kinds, vec!["entity", "event", "alarm"]);
    assert_eq!(
        frames[0].data,
        json!({"Sequence": 1, "Kind": "Cardholder", "Token": "251", "Change": "Created"})
    );
    assert_eq!(frames[1].data["Sequence"], 2);
    assert_eq!(frames[1].data["Type"], "Door Forced");
    assert_eq!(frames[2].data["State"], "Raised");
    assert_eq!(frames[2].data["AlarmClassToken"], "1");
    for f in &frames {
        let decoded = model::management::Push::decode(&f.event, &f.data.to_string()).unwrap();
        assert_eq!(decoded.sequence(), f.id.unwrap());
    }
}

#[tokio::test]
async fn without_after_only_live_messages_come_and_after_replays() {
    let sim = Sim::start().await;
    one_of_each(&sim).await;
    let mut live = sim.push(None).await;
    sim.delete(&sim.hr("Cardholders/4")).await;
    let f = live.next().await.unwrap();
    assert_eq!(f.id, Some(4));
    assert_eq!(f.data["Change"], "Deleted");
    assert_eq!(f.data["Token"], "4");

    let mut replay = sim.push(Some(1)).await;
    let ids: Vec<u64> = replay.take(3).await.iter().map(|f| f.id.unwrap()).collect();
    assert_eq!(ids, vec![2, 3, 4]);
    sim.put(&sim.hr("Cardholders/5"), {
        let mut c = new_cardholder("Up", "Dated");
        c["Token"] = json!("5");
        c
    })
    .await;
    let f = replay.next().await.unwrap();
    assert_eq!(
        (f.id, f.data["Change"].as_str()),
        (Some(5), Some("Updated")),
        "then live"
    );

    // The standard SSE resume header works too.
    let resp = sim
        .request(reqwest::Method::GET, &sim.mgmt("Notifications"))
        .header("Last-Event-ID", "4")
        .send()
        .await
        .unwrap();
    let text = tokio::time::timeout(Duration::from_secs(5), async {
        let mut resp = resp;
        let mut text = String::new();
        while !text.contains("\n\n") {
            text.push_str(&String::from_utf8_lossy(
                &resp.chunk().await.unwrap().unwrap(),
            ));
        }
        text
    })
    .await
    .unwrap();
    assert!(text.starts_with("id: 5\nevent: entity\n"), "{text}");
}

#[tokio::test]
async fn resuming_before_what_is_retained_starts_with_a_gap() {
    let mut config = config();
    config.push_retain = 3;
    let sim = Sim::with(config).await;
    one_of_each(&sim).await;
    one_of_each(&sim).await;
    let mut push = sim.push(Some(1)).await;
    let gap = push.next().await.unwrap();
    assert_eq!(gap.event, "gap");
    assert_eq!(gap.data, json!({"From": 2, "To": 3}));
    assert_eq!(gap.id, Some(3));
    let ids: Vec<u64> = push.take(3).await.iter().map(|f| f.id.unwrap()).collect();
    assert_eq!(ids, vec![4, 5, 6]);

    let mut fresh = sim.push(Some(3)).await;
    assert_eq!(
        fresh.next().await.unwrap().id,
        Some(4),
        "no gap when nothing was lost"
    );
}

#[tokio::test]
async fn an_idle_stream_gets_keep_alive_comments() {
    let mut config = config();
    config.keep_alive = Duration::from_millis(100);
    let sim = Sim::with(config).await;
    let mut push = sim.push(None).await;
    let frame = push.next_frame().await.unwrap();
    assert_eq!(frame.comment.as_deref(), Some("keep-alive"));
}

#[tokio::test]
async fn changes_through_every_api_are_pushed() {
    let sim = Sim::start().await;
    let mut push = sim.push(Some(0)).await;
    let (_, wg) = sim.get(&sim.hr("WorkGroups/1")).await;
    sim.put(&sim.hr("WorkGroups/1"), wg).await;
    sim.post(
        &sim.mgmt("Commands"),
        json!({"TargetKind": "Doorset", "TargetToken": "1", "Command": "Block"}),
    )
    .await;
    let (_, door) = sim.get(&sim.mgmt("Doorsets/1")).await;
    let (status, created) = sim.post(&sim.simapi("Doorsets"), door).await;
    assert_eq!(status, StatusCode::CREATED);
    let new_door = created["Token"].as_str().unwrap().to_owned();
    sim.delete(&sim.simapi(&format!("Doorsets/{new_door}")))
        .await;
    let (status, _) = sim
        .post(&sim.simapi("Cardholders"), new_cardholder("Via", "Sim"))
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let frames = push.take(6).await;
    let summary: Vec<(String, String, String)> = frames
        .iter()
        .map(|f| {
            let d = &f.data;
            (
                f.event.clone(),
                d["Kind"]
                    .as_str()
                    .or(d["Type"].as_str())
                    .unwrap_or("")
                    .to_owned(),
                d["Change"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let s = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
    assert_eq!(
        summary,
        vec![
            s("entity", "WorkGroup", "Updated"),
            s("entity", "Doorset", "Updated"),
            s("event", "Door Blocked", ""),
            s("entity", "Doorset", "Created"),
            s("entity", "Doorset", "Deleted"),
            s("entity", "Cardholder", "Created"),
        ]
    );
}

#[tokio::test]
async fn background_load_changes_cardholders_and_emits_every_event_type() {
    let mut config = config();
    config.changes_per_sec = 200.0;
    config.events_per_sec = 2000.0;
    let sim = Sim::with(config).await;
    let mut push = sim.push(Some(0)).await;
    let mut last = 0;
    loop {
        let f = push.next().await.expect("messages keep coming");
        assert_eq!(f.id, Some(last + 1), "no gaps under load");
        last += 1;
        if f.event == "entity" && f.data["Kind"] == "Cardholder" {
            break;
        }
        assert!(last < 100_000, "a cardholder change comes");
    }
    let types = eventually(|| async {
        let (_, page) = sim.get(&sim.mgmt("Events?after=0&limit=10000")).await;
        let types: HashSet<String> = page["Records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["Type"].as_str().unwrap().to_owned())
            .collect();
        (types.len() == EVENT_TYPES.len()).then_some(types)
    })
    .await;
    assert!(EVENT_TYPES.iter().all(|t| types.contains(t.name)));
    let (_, alarms) = sim.get(&sim.mgmt("Alarms")).await;
    assert!(
        !alarms["Records"].as_array().unwrap().is_empty(),
        "alarm-worthy events raise alarms"
    );
}

#[tokio::test]
async fn shutting_down_ends_push_streams_instead_of_waiting_on_them() {
    let sim = Sim::start().await;
    let mut push = sim.push(Some(0)).await;
    let took = sim.shut_down().await;
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(push.ended().await);
}
