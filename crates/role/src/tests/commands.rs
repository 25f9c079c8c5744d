//! Commands against the fake proxy: sent through the session, refused when unsupported or
//! when nothing is connected, and recorded in the activity trail each time.

use model::EntityKind;
use model::access::Viewer;
use store::ActivityFilter;

use super::Running;
use super::fake_proxy::FakeProxy;
use crate::commands::{CommandError, CommandOrder};

fn order(entity: &str, action: &str) -> CommandOrder {
    CommandOrder {
        entity: entity.into(),
        kind: None,
        action: action.into(),
        application: "CLI".into(),
        viewer: Viewer::administrator("ada"),
    }
}

fn trail(running: &Running) -> Vec<store::Activity> {
    running
        .role
        .plugin
        .activities(&ActivityFilter {
            limit: 100,
            ..ActivityFilter::default()
        })
        .expect("the trail reads")
}

#[tokio::test]
async fn a_command_reaches_the_proxy_and_every_outcome_lands_in_the_trail() {
    let proxy = FakeProxy::new(&[EntityKind::Doorset]);
    proxy.upsert(EntityKind::Doorset, "d1");
    let running = Running::start(&proxy);
    running.verified(&proxy, &[EntityKind::Doorset]).await;
    let desk = running.role.commands.clone();

    let answer = desk.send(order("d1", "unlock")).await.expect("sent");
    assert_eq!(answer.result, "Succeeded");
    let sent = proxy.commands();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (
            sent[0].target_kind.as_str(),
            sent[0].target_token.as_str(),
            sent[0].command.as_str()
        ),
        ("Doorset", "d1", "Unlock")
    );

    let refused = desk.send(order("d1", "arm")).await.unwrap_err();
    assert!(
        matches!(refused, CommandError::NotSupported(_)),
        "{refused}"
    );
    assert!(refused.to_string().contains("door"), "{refused}");
    assert!(refused.to_string().contains("'arm'"), "{refused}");
    assert_eq!(proxy.commands().len(), 1, "a refused command is not sent");

    let unknown = desk.send(order("nobody", "unlock")).await.unwrap_err();
    assert!(
        matches!(unknown, CommandError::UnknownEntity(_)),
        "{unknown}"
    );

    let operator = Viewer {
        role: model::access::AccessRole::Operator,
        ..Viewer::administrator("olga")
    };
    let hidden = desk
        .send(CommandOrder {
            viewer: operator,
            ..order("d1", "lock")
        })
        .await
        .unwrap_err();
    assert!(matches!(hidden, CommandError::UnknownEntity(_)), "{hidden}");

    let activities = trail(&running);
    assert_eq!(activities.len(), 2, "{activities:?}");
    let (refused, sent) = (&activities[0], &activities[1]);
    assert_eq!(
        (sent.activity.as_str(), sent.outcome.as_str()),
        ("unlock", "succeeded")
    );
    assert_eq!(
        (
            sent.user.as_str(),
            sent.application.as_str(),
            sent.machine.as_str()
        ),
        ("ada", "CLI", "test")
    );
    assert_eq!(sent.entity_kind, "door");
    assert_eq!(refused.outcome, "not-supported");
    running.stop().await;
}

#[tokio::test]
async fn with_no_session_a_command_fails_at_once_and_is_recorded() {
    let proxy = FakeProxy::new(&[EntityKind::Doorset]);
    proxy.upsert(EntityKind::Doorset, "d1");
    let running = Running::start(&proxy);
    running.verified(&proxy, &[EntityKind::Doorset]).await;
    // The proxy starts reloading SiPass: the role's session ends and it waits.
    proxy.set_loading(Some((0, 10)));
    proxy.drop_watches();
    running
        .eventually("the session ends", |role| {
            (!role.status.proxy().connected).then_some(())
        })
        .await;
    let started = std::time::Instant::now();
    let err = running
        .role
        .commands
        .send(order("d1", "unlock"))
        .await
        .unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert!(matches!(err, CommandError::NotConnected(_)), "{err}");
    assert!(err.to_string().contains("not connected"), "{err}");
    assert!(proxy.commands().is_empty());
    let activities = trail(&running);
    assert_eq!(activities.len(), 1);
    assert_eq!(activities[0].outcome, "not-connected");
    running.stop().await;
}
