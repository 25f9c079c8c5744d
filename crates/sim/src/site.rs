//! The simulated site: the world behind a lock, the push channel, and the rules by which
//! the world changes. Every change publishes its push messages while the write lock is
//! held, so the push order is the order of changes.

use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use model::SiPassVersion;
use model::management::{
    Alarm, AlarmChange, AlarmState, Change, CommandOutcome, CommandRequest, CommandResult,
    CommandTarget, ControlMode, EVENT_TYPES, EntityChange, Event, EventType, LockState,
    ManualOverride, ObjectKind, OutputState, PushType,
};
use model::sipass::Cardholder;
use serde_json::Value;

use crate::control::{InjectEvent, RaiseAlarm};
use crate::generate::{self, SiteSpec};
use crate::hub::Hub;
use crate::rng::Rng;
use crate::table::RowError;
use crate::world::World;

/// The name the simulated server gives itself in events (`server_name`).
pub const SERVER_NAME: &str = "SIPASS-SIM";

/// Everything the simulated SiPass server knows. Shared by the HTTP handlers.
pub struct Site {
    version: SiPassVersion,
    world: RwLock<World>,
    hub: Hub,
    rng: Mutex<Rng>,
}

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error(transparent)]
    Row(#[from] RowError),
    #[error("no {kind} with token '{token}'")]
    NotFound { kind: ObjectKind, token: String },
    #[error("{0}")]
    Invalid(String),
}

impl Site {
    /// Generates the site described by `spec`, deterministically, keeping the last
    /// `push_retain` push messages for replay.
    pub fn generate(spec: &SiteSpec, version: SiPassVersion, push_retain: usize) -> Self {
        Site {
            version,
            world: RwLock::new(generate::site(spec, version)),
            hub: Hub::new(push_retain),
            rng: Mutex::new(Rng::new(spec.seed ^ 0x5eed)),
        }
    }

    /// Push sequence numbers, event ids and alarm ids from now on start after `base` (see
    /// `SimConfig::numbering_base`); called before anything is published.
    pub fn number_after(&self, base: u64) {
        self.hub.start_after(base);
        let mut w = self.world.write().unwrap_or_else(|e| e.into_inner());
        w.next_alarm_id = w.next_alarm_id.max(base + 1);
        w.next_event_id = w.next_event_id.max(base + 1);
    }

    /// The SiPass release this site pretends to be.
    pub fn version(&self) -> SiPassVersion {
        self.version
    }

    /// The push channel.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// How many cardholders exist.
    pub fn cardholder_count(&self) -> usize {
        self.read().cardholders.len()
    }

    /// A consistent view of the world, for reading.
    pub fn read(&self) -> RwLockReadGuard<'_, World> {
        // Every change completes before its guard drops, so a poisoned lock is consistent.
        self.world.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, World> {
        self.world.write().unwrap_or_else(|e| e.into_inner())
    }

    fn random(&self) -> u64 {
        self.rng.lock().unwrap_or_else(|e| e.into_inner()).next()
    }

    fn entity(&self, kind: ObjectKind, token: u64, change: Change) {
        self.hub.publish(PushType::Entity, |sequence| {
            json_line(&EntityChange {
                sequence,
                kind,
                token: token.to_string(),
                change,
            })
        });
    }

    // ----- cardholders -----------------------------------------------------------------

    /// One cardholder by token.
    pub fn cardholder(&self, token: &str) -> Option<Cardholder> {
        self.read().cardholders.get(token.trim().parse().ok()?)
    }

    /// Adds a cardholder under the next token, which it returns.
    pub fn create_cardholder(&self, cardholder: Cardholder) -> u64 {
        let mut w = self.write();
        let token = w.cardholders.create(cardholder);
        self.entity(ObjectKind::Cardholder, token, Change::Created);
        token
    }

    /// Replaces a cardholder; false when none has `token`.
    pub fn update_cardholder(&self, token: &str, cardholder: Cardholder) -> bool {
        let Ok(token) = token.trim().parse() else {
            return false;
        };
        let mut w = self.write();
        let done = w.cardholders.update(token, cardholder);
        if done {
            self.entity(ObjectKind::Cardholder, token, Change::Updated);
        }
        done
    }

    /// Deletes a cardholder; false when none has `token`.
    pub fn delete_cardholder(&self, token: &str) -> bool {
        let Ok(token) = token.trim().parse() else {
            return false;
        };
        let mut w = self.write();
        let done = w.cardholders.delete(token);
        if done {
            self.entity(ObjectKind::Cardholder, token, Change::Deleted);
        }
        done
    }

    // ----- other objects ---------------------------------------------------------------

    /// Every object of `kind` (not cardholders), as JSON.
    pub fn list(&self, kind: ObjectKind) -> Vec<Value> {
        self.read()
            .table(kind)
            .map(|t| t.list())
            .unwrap_or_default()
    }

    /// One object of `kind` (not cardholders), as JSON.
    pub fn get(&self, kind: ObjectKind, token: &str) -> Option<Value> {
        let token = token.trim().parse().ok()?;
        self.read().table(kind)?.get_json(token)
    }

    /// Creates an object of `kind` (not cardholders) from JSON; returns its token.
    pub fn create(&self, kind: ObjectKind, body: Value) -> Result<u64, ChangeError> {
        let mut w = self.write();
        let table = w.table_mut(kind).ok_or_else(|| not_found(kind, ""))?;
        let token = table.create_json(body)?;
        self.entity(kind, token, Change::Created);
        Ok(token)
    }

    /// Replaces an object of `kind` (not cardholders) with JSON.
    pub fn update(&self, kind: ObjectKind, token: &str, body: Value) -> Result<(), ChangeError> {
        let number = parse_token(kind, token)?;
        let mut w = self.write();
        let table = w.table_mut(kind).ok_or_else(|| not_found(kind, token))?;
        if !table.contains(number) {
            return Err(not_found(kind, token));
        }
        table.update_json(number, body)?;
        self.entity(kind, number, Change::Updated);
        Ok(())
    }

    /// Deletes an object of `kind` (not cardholders).
    pub fn delete(&self, kind: ObjectKind, token: &str) -> Result<(), ChangeError> {
        let number = parse_token(kind, token)?;
        let mut w = self.write();
        let table = w.table_mut(kind).ok_or_else(|| not_found(kind, token))?;
        if !table.delete(number) {
            return Err(not_found(kind, token));
        }
        self.entity(kind, number, Change::Deleted);
        Ok(())
    }

    // ----- alarms ----------------------------------------------------------------------

    /// The active alarms: raised and not yet both acknowledged and cleared.
    pub fn active_alarms(&self) -> Vec<Alarm> {
        self.read().alarms.active().cloned().collect()
    }

    /// One alarm, active or recently finished.
    pub fn alarm(&self, id: &str) -> Option<Alarm> {
        self.read().alarms.get(id.trim().parse().ok()?).cloned()
    }

    /// How many acknowledge requests an alarm received (repeats included); `None` when no
    /// alarm has that id.
    pub fn alarm_ack_requests(&self, id: &str) -> Option<u32> {
        let id = id.trim().parse().ok()?;
        let r = self.read();
        r.alarms.get(id)?;
        Some(r.alarms.ack_requests(id))
    }

    /// Raises an alarm of a class.
    pub fn raise_alarm(&self, raise: RaiseAlarm) -> Result<Alarm, ChangeError> {
        let mut w = self.write();
        let class_token = parse_token(ObjectKind::AlarmClass, &raise.alarm_class_token)?;
        let class = w
            .alarm_classes
            .get(class_token)
            .cloned()
            .ok_or_else(|| not_found(ObjectKind::AlarmClass, &raise.alarm_class_token))?;
        let id = w.next_alarm_id;
        w.next_alarm_id += 1;
        let alarm = Alarm {
            alarm_id: id.to_string(),
            alarm_class_token: class.token.clone(),
            alarm_class_name: class.name.clone(),
            priority: class.priority,
            state: AlarmState::Raised,
            message: if raise.message.is_empty() {
                class.name.clone()
            } else {
                raise.message
            },
            source_kind: raise.source_kind,
            source_token: raise.source_token,
            raised_at: now(),
            ..Alarm::default()
        };
        w.alarms.raise(id, alarm.clone());
        self.alarm_change(&alarm, alarm.raised_at.clone());
        Ok(alarm)
    }

    /// Acknowledges an alarm. Idempotent: acknowledging again changes nothing and
    /// publishes nothing. `None` when no alarm has that id.
    pub fn acknowledge_alarm(&self, id: &str, operator: &str, comment: &str) -> Option<Alarm> {
        let id = id.trim().parse().ok()?;
        let mut w = self.write();
        w.alarms.count_ack_request(id);
        let (alarm, changed) = w.alarms.update(id, |alarm| {
            let changed = !alarm.acknowledged;
            if changed {
                alarm.acknowledged = true;
                alarm.state = AlarmState::Acknowledged;
                alarm.operator = operator.to_owned();
                alarm.comment = comment.to_owned();
                alarm.acknowledged_at = now();
            }
            (alarm.clone(), changed)
        })?;
        if changed {
            self.alarm_change(&alarm, alarm.acknowledged_at.clone());
        }
        Some(alarm)
    }

    /// Clears an alarm (its cause went back to normal). Idempotent like acknowledging.
    pub fn clear_alarm(&self, id: &str) -> Option<Alarm> {
        let id = id.trim().parse().ok()?;
        let mut w = self.write();
        let (alarm, changed) = w.alarms.update(id, |alarm| {
            let changed = !alarm.cleared;
            if changed {
                alarm.cleared = true;
                alarm.state = AlarmState::Cleared;
                alarm.cleared_at = now();
            }
            (alarm.clone(), changed)
        })?;
        if changed {
            self.alarm_change(&alarm, alarm.cleared_at.clone());
        }
        Some(alarm)
    }

    fn alarm_change(&self, alarm: &Alarm, at: String) {
        self.hub.publish(PushType::Alarm, |sequence| {
            json_line(&AlarmChange {
                sequence,
                alarm_id: alarm.alarm_id.clone(),
                alarm_class_token: alarm.alarm_class_token.clone(),
                priority: alarm.priority,
                state: alarm.state,
                operator: alarm.operator.clone(),
                comment: alarm.comment.clone(),
                at,
                message: alarm.message.clone(),
                source_kind: alarm.source_kind,
                source_token: alarm.source_token.clone(),
            })
        });
    }

    // ----- events ----------------------------------------------------------------------

    /// Injects an event; fills in what the request leaves out from the site.
    pub fn inject_event(&self, inject: InjectEvent) -> Result<Event, ChangeError> {
        let etype = EventType::find(&inject.r#type).ok_or_else(|| {
            ChangeError::Invalid(format!(
                "unknown event type '{}'; see EVENT_TYPES in the simulator's documentation",
                inject.r#type
            ))
        })?;
        let mut w = self.write();
        let entity = match inject.entity_token.trim() {
            "" => None,
            t => Some(parse_token(etype.concerns, t)?),
        };
        let cardholder = match inject.cardholder_token.trim() {
            "" => None,
            t => Some(parse_token(ObjectKind::Cardholder, t)?),
        };
        let event = self.emit_event(&mut w, etype, entity, cardholder, inject.message)?;
        Ok(event)
    }

    /// Emits one event of type `etype`, about `entity` (or a random object of the right
    /// kind) and, for access events, `cardholder` (or a random one).
    fn emit_event(
        &self,
        w: &mut World,
        etype: EventType,
        entity: Option<u64>,
        cardholder: Option<u64>,
        message: String,
    ) -> Result<Event, ChangeError> {
        let mut event = describe_entity(w, etype.concerns, entity.unwrap_or(0), self.random())
            .ok_or_else(|| not_found(etype.concerns, &entity.unwrap_or(0).to_string()))?;
        if etype.is_access() {
            let token = match cardholder {
                Some(t) => t,
                None => w
                    .cardholders
                    .token_at((self.random() % w.cardholders.len().max(1) as u64) as usize)
                    .unwrap_or(0),
            };
            if let Some(c) = w.cardholders.get(token) {
                fill_cardholder(&mut event, &c);
            } else if cardholder.is_some() {
                return Err(not_found(ObjectKind::Cardholder, &token.to_string()));
            }
        }
        let id = w.next_event_id;
        w.next_event_id += 1;
        let stamp = now();
        event.id = id.to_string();
        event.occurred_at = stamp.clone();
        event.recorded_at = stamp;
        event.server = SERVER_NAME.to_owned();
        event.r#type = etype.name.to_owned();
        event.category = etype.category;
        event.state_id = etype.state_id;
        event.message = if message.is_empty() {
            format!("{} at {}", etype.name, event.point_name)
        } else {
            message
        };
        self.hub.publish(PushType::Event, |sequence| {
            event.sequence = sequence;
            json_line(&event)
        });
        Ok(event)
    }

    /// One random event, of each type in turn (`n` counts them), for `--events-per-sec`.
    /// Alarm-worthy events also raise an alarm; active alarms beyond a hundred are
    /// cleared and acknowledged by "system", oldest first, so they do not pile up.
    pub fn random_event(&self, n: u64) {
        let etype = EVENT_TYPES[(n % EVENT_TYPES.len() as u64) as usize];
        let event = {
            let mut w = self.write();
            self.emit_event(&mut w, etype, None, None, String::new())
        };
        let Ok(event) = event else { return };
        if let Some(class) = alarm_class_for(etype.name) {
            let _ = self.raise_alarm(RaiseAlarm {
                alarm_class_token: class.to_owned(),
                message: event.message.clone(),
                source_kind: event.entity_kind,
                source_token: event.entity_token.clone(),
            });
            let oldest = {
                let w = self.read();
                (w.alarms.active_count() > 100)
                    .then(|| w.alarms.oldest_active())
                    .flatten()
            };
            if let Some(oldest) = oldest {
                let oldest = oldest.to_string();
                self.clear_alarm(&oldest);
                self.acknowledge_alarm(&oldest, "system", "automatic");
            }
        }
    }

    /// One random cardholder change for `--changes-per-sec`: mostly updates, some creates
    /// and as many deletes, so the population stays about the same.
    pub fn random_change(&self) {
        let roll = self.random() % 10;
        let token = {
            let w = self.read();
            let len = w.cardholders.len().max(1) as u64;
            w.cardholders.token_at((self.random() % len) as usize)
        };
        let Some(token) = token else { return };
        let Some(mut c) = self.cardholder(&token.to_string()) else {
            return;
        };
        match roll {
            0 => {
                c.first_name = format!("New{}", self.random() % 10_000);
                c.credentials.clear();
                self.create_cardholder(c);
            }
            1 => {
                self.delete_cardholder(&token.to_string());
            }
            _ => {
                c.general_information = format!("changed {}", self.random() % 1_000_000);
                c.personal_details.contact_details.phone_number =
                    format!("+41 44 {:07}", self.random() % 10_000_000);
                if let Some(card) = c.credentials.first_mut() {
                    card.revision_number += 1;
                }
                self.update_cardholder(&token.to_string(), c);
            }
        }
    }

    // ----- commands --------------------------------------------------------------------

    /// Runs a manual-override command: changes the target's state and emits the matching
    /// events. `Err(NotFound)` when the target does not exist.
    pub fn command(&self, req: &CommandRequest) -> Result<CommandResult, ChangeError> {
        let kind = match req.target_kind {
            CommandTarget::Doorset => ObjectKind::Doorset,
            CommandTarget::IntrusionArea => ObjectKind::IntrusionArea,
            CommandTarget::Output => ObjectKind::Output,
        };
        let token = parse_token(kind, &req.target_token)?;
        let mut w = self.write();
        let unit = match kind {
            ObjectKind::Doorset => w.doorsets.get(token).map(|d| d.unit_token.clone()),
            ObjectKind::IntrusionArea => w.intrusion_areas.get(token).map(|a| a.unit_token.clone()),
            _ => w.outputs.get(token).map(|o| o.unit_token.clone()),
        }
        .ok_or_else(|| not_found(kind, &req.target_token))?;
        if req.command.target() != req.target_kind {
            return Ok(CommandResult {
                result: CommandOutcome::NotSupported,
                message: format!(
                    "{:?} does not apply to a {kind}; it applies to a {:?}",
                    req.command,
                    req.command.target()
                ),
            });
        }
        let offline = unit
            .parse()
            .ok()
            .and_then(|u| w.units.get(u))
            .is_some_and(|u| u.comm_state != model::management::CommState::Online);
        if offline {
            return Ok(CommandResult {
                result: CommandOutcome::UnitOffline,
                message: format!("unit {unit} is offline; the command was not sent"),
            });
        }
        let events = apply_command(&mut w, token, req.command);
        if events.changed {
            self.entity(kind, token, Change::Updated);
        }
        for name in events.names {
            if let Some(etype) = EventType::find(name) {
                let _ = self.emit_event(&mut w, etype, Some(token), None, String::new());
            }
        }
        Ok(CommandResult {
            result: CommandOutcome::Succeeded,
            message: format!("{:?} sent to {kind} {token}", req.command),
        })
    }
}

/// What a command did: whether the target's state changed, and the events to emit.
struct Applied {
    changed: bool,
    names: Vec<&'static str>,
}

fn apply_command(w: &mut World, token: u64, command: ManualOverride) -> Applied {
    use ManualOverride::*;
    let mut changed = false;
    let mut set = |changed_now: bool| changed |= changed_now;
    let names: Vec<&'static str> = match command.target() {
        CommandTarget::Doorset => {
            let Some(d) = w.doorsets.get_mut(token) else {
                return Applied {
                    changed: false,
                    names: Vec::new(),
                };
            };
            let before = d.state.clone();
            d.state.last_override = Some(command);
            let name = match command {
                AllowAccess => {
                    d.state.access_allowed += 1;
                    "Door Access Allowed"
                }
                Block => {
                    d.state.blocked = true;
                    "Door Blocked"
                }
                Unblock => {
                    d.state.blocked = false;
                    "Door Unblocked"
                }
                Lock => {
                    d.state.lock = LockState::Locked;
                    d.state.control = ControlMode::Override;
                    "Door Locked"
                }
                Unlock => {
                    d.state.lock = LockState::Unlocked;
                    d.state.control = ControlMode::Override;
                    "Door Unlocked"
                }
                BuzzerOn => {
                    d.state.buzzer = true;
                    "Buzzer On"
                }
                BuzzerOff => {
                    d.state.buzzer = false;
                    "Buzzer Off"
                }
                _ => {
                    d.state.control = ControlMode::Schedule;
                    d.state.lock = LockState::Locked;
                    "Door Returned To Schedule"
                }
            };
            set(d.state != before);
            vec![name]
        }
        CommandTarget::IntrusionArea => {
            let Some(a) = w.intrusion_areas.get_mut(token) else {
                return Applied {
                    changed: false,
                    names: Vec::new(),
                };
            };
            let (state, name) = if command == Arm {
                (model::management::AreaState::Armed, "Area Armed")
            } else {
                (model::management::AreaState::Disarmed, "Area Disarmed")
            };
            set(a.state != state || a.last_override != Some(command));
            a.state = state;
            a.last_override = Some(command);
            vec![name]
        }
        CommandTarget::Output => {
            let Some(o) = w.outputs.get_mut(token) else {
                return Applied {
                    changed: false,
                    names: Vec::new(),
                };
            };
            o.last_override = Some(command);
            if command == Toggle {
                o.state = match o.state {
                    OutputState::On => OutputState::Off,
                    OutputState::Off => OutputState::On,
                };
                set(true);
                vec![if o.state == OutputState::On {
                    "Output On"
                } else {
                    "Output Off"
                }]
            } else {
                // A pulse turns the output on and back off: the state ends where it began,
                // and the counter is what shows it happened.
                o.pulses += 1;
                set(true);
                vec!["Output On", "Output Off"]
            }
        }
    };
    Applied { changed, names }
}

/// The alarm class (token, as generated) that an event type raises, if any.
fn alarm_class_for(event_type: &str) -> Option<&'static str> {
    Some(match event_type {
        "Duress" => "1",
        "Area Alarm" => "2",
        "Door Forced" => "3",
        "Communication Lost" => "4",
        "Tamper Active" | "Reader Tamper" | "Input Tamper" => "5",
        "AC Power Failed" | "Battery Failed" => "6",
        "Door Held" => "7",
        "Input Alarm" => "8",
        _ => return None,
    })
}

/// The event fields that describe the object an event concerns: `token`, or one picked
/// with `random` when `token` is 0. `None` when there is no such object.
fn describe_entity(w: &World, kind: ObjectKind, token: u64, random: u64) -> Option<Event> {
    let unit_no = |unit_token: &str| -> i64 {
        unit_token
            .parse()
            .ok()
            .and_then(|u| w.units.get(u))
            .map(|u| u.unit_no)
            .unwrap_or(0)
    };
    let mut e = Event {
        entity_kind: Some(kind),
        ..Event::default()
    };
    macro_rules! choose {
        ($table:expr) => {
            if token == 0 {
                $table.pick(random)?
            } else {
                $table.get(token)?
            }
        };
    }
    match kind {
        ObjectKind::Doorset => {
            let d = choose!(w.doorsets);
            e.entity_token = d.token.clone();
            e.unit_no = unit_no(&d.unit_token);
            e.point_no = d.point_no;
            e.device_no = d.point_no;
            e.point_name = d.name.clone();
        }
        ObjectKind::AccessPoint => {
            let r = choose!(w.access_points);
            e.entity_token = r.token.clone();
            e.point_name = r.name.clone();
        }
        ObjectKind::Unit => {
            let u = choose!(w.units);
            e.entity_token = u.token.clone();
            e.unit_no = u.unit_no;
            e.point_name = u.name.clone();
        }
        ObjectKind::Input => {
            let i = choose!(w.inputs);
            e.entity_token = i.token.clone();
            e.unit_no = unit_no(&i.unit_token);
            e.point_no = i.point_no;
            e.point_name = i.name.clone();
        }
        ObjectKind::Output => {
            let o = choose!(w.outputs);
            e.entity_token = o.token.clone();
            e.unit_no = unit_no(&o.unit_token);
            e.point_no = o.point_no;
            e.point_name = o.name.clone();
        }
        ObjectKind::IntrusionArea => {
            let a = choose!(w.intrusion_areas);
            e.entity_token = a.token.clone();
            e.unit_no = unit_no(&a.unit_token);
            e.point_name = a.name.clone();
        }
        ObjectKind::ApbArea => {
            let a = choose!(w.apb_areas);
            e.entity_token = a.token.clone();
            e.point_name = a.name.clone();
            e.new_area = a.name.clone();
            e.old_area = w
                .apb_clusters
                .get(a.cluster_token.parse().unwrap_or(0))
                .and_then(|c| c.area_tokens.iter().find(|t| **t != a.token))
                .and_then(|t| w.apb_areas.get(t.parse().unwrap_or(0)))
                .map(|o| o.name.clone())
                .unwrap_or_default();
        }
        _ => return None,
    }
    Some(e)
}

/// The card and person fields of an access event.
fn fill_cardholder(e: &mut Event, c: &Cardholder) {
    e.cardholder_token = c.token.clone();
    e.emp_id = c.employee_number.clone();
    e.first_name = c.first_name.clone();
    e.last_name = c.last_name.clone();
    e.workgroup = c.primary_workgroup_name.clone();
    if let Some(card) = c.credentials.first() {
        e.card_no = card.card_number.clone();
        e.card_facility = card.facility_code;
        e.card_tech = card.card_technology_code;
    }
}

fn not_found(kind: ObjectKind, token: &str) -> ChangeError {
    ChangeError::NotFound {
        kind,
        token: token.to_owned(),
    }
}

fn parse_token(kind: ObjectKind, token: &str) -> Result<u64, ChangeError> {
    token.trim().parse().map_err(|_| not_found(kind, token))
}

/// One line of JSON (serde_json never writes a newline in compact form).
pub fn json_line<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}

/// Now, as SiPass writes times: ISO-8601 without fractions, with the UTC offset.
pub fn now() -> String {
    let text = model::time::rfc3339_millis(runtime::now_millis());
    // "2026-11-22T09:33:20.123Z" -> "2026-11-22T09:33:20+00:00"
    format!("{}+00:00", &text[..19])
}
