//! A deterministic site generator: the same seed and size always give the same site, so a
//! test or a benchmark can be repeated exactly.
//!
//! Cardholders are rebuilt on demand (`people`); devices and reference data are few (a
//! doorset per 50 cardholders at most) and are generated once into tables.

use model::SiPassVersion;
use model::management::{
    AlarmClass, ApbArea, ApbCluster, Bank, CommState, Doorset, DoorsetState, Floor, Input,
    IntrusionArea, Output, Peripheral, PowerState, Reader, TamperState, Unit,
};
use model::sipass::{
    AccessGroup, AccessLevel, CardTechnology, CredentialProfile, LevelRef, NONE_WORKGROUP_TOKEN,
    NamedToken, PinMode, PinModeValue, VISITOR_WORKGROUP_TOKEN, WorkGroup, workgroup_type,
};

use crate::cardholders::Cardholders;
use crate::people::{Generator, access_group_rule};
use crate::world::World;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SiteSpec {
    pub cardholders: usize,
    pub seed: u64,
}

impl Default for SiteSpec {
    fn default() -> Self {
        SiteSpec {
            cardholders: 1000,
            seed: 1,
        }
    }
}

const DEPARTMENTS: [&str; 12] = [
    "Engineering",
    "Facilities",
    "Finance",
    "Security",
    "Sales",
    "Logistics",
    "Research",
    "Operations",
    "Legal",
    "Cleaning",
    "IT",
    "Reception",
];
const TIME_ZONES: [&str; 4] = [
    "Europe/Zurich",
    "Europe/London",
    "America/New_York",
    "Asia/Singapore",
];

/// How many devices a site of `cardholders` gets: one doorset per 50 cardholders (8 to
/// 20,000), one unit per 8 doorsets, a bank per 40 doorsets, and so on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proportions {
    pub doorsets: u64,
    pub units: u64,
    pub banks: u64,
    pub apb_clusters: u64,
    pub intrusion_areas: u64,
    pub departments: u64,
    pub access_levels: u64,
    pub access_groups: u64,
}

impl Proportions {
    pub fn for_cardholders(cardholders: usize) -> Self {
        let n = cardholders as u64;
        let doorsets = (n / 50).clamp(8, 20_000);
        let units = doorsets.div_ceil(8);
        let access_levels = (doorsets / 5).clamp(2, 200);
        Proportions {
            doorsets,
            units,
            banks: (doorsets / 40).clamp(1, 50),
            apb_clusters: (doorsets / 100).clamp(1, 20),
            intrusion_areas: units.min(500),
            departments: (n / 2000).clamp(4, 200),
            access_levels,
            access_groups: (access_levels / 4).clamp(1, 50),
        }
    }
}

/// Generates the whole site described by `spec`.
pub fn site(spec: &SiteSpec, version: SiPassVersion) -> World {
    let p = Proportions::for_cardholders(spec.cardholders);
    let mut w = World::empty(Generator::new(spec.seed, version, Vec::new(), Vec::new()));
    reference_data(&mut w);
    workgroups(&mut w, &p);
    devices(&mut w, &p);
    access(&mut w, &p);
    let departments = w
        .workgroups
        .values()
        .filter(|g| g.r#type != workgroup_type::VISITOR && g.token != NONE_WORKGROUP_TOKEN)
        .map(|g| (g.token, g.name.clone()))
        .collect();
    let access_groups = w
        .access_groups
        .values()
        .map(|g| (g.token.clone(), g.name.clone()))
        .collect();
    let generator = Generator::new(spec.seed, version, departments, access_groups);
    w.cardholders = Cardholders::generated(generator, spec.cardholders);
    w
}

fn named(token: u64, name: impl Into<String>) -> NamedToken {
    NamedToken {
        token: token.to_string(),
        name: name.into(),
    }
}

/// Time schedules, card technologies and credential profiles: the same on every site.
fn reference_data(w: &mut World) {
    for (t, name) in [
        (1, "Always"),
        (2, "Never"),
        (3, "System function schedule"),
        (4, "08:00-18:00"),
        (5, "Weekends"),
    ] {
        w.time_schedules.insert(named(t, name));
    }
    for (code, name, fac, card) in [
        (10, "HID Corporate 1000 35 bit", 4, 7),
        (26, "Wiegand 26 bit", 3, 5),
        (37, "MIFARE DESFire EV2", 0, 10),
    ] {
        w.card_technologies.insert(CardTechnology {
            technology_code: code,
            name: name.to_owned(),
            facility_code_digits: fac,
            card_number_digits: card,
        });
    }
    let pin_mode = |t: i32, name: &str| PinMode {
        r#type: t,
        name: name.to_owned(),
        full_name: format!("{name} only"),
        is_used: t == 1,
    };
    for (token, name, tech, code, fac) in [
        (
            1,
            "HID Corporate 1000",
            "HID Corporate 1000 35 bit",
            10,
            100,
        ),
        (2, "Wiegand 26", "Wiegand 26 bit", 26, 200),
        (3, "PIN only", "MIFARE DESFire EV2", 37, 0),
    ] {
        w.credential_profiles.insert(CredentialProfile {
            token: token.to_string(),
            name: name.to_owned(),
            pin_digits: 4,
            card_number_digits: 7,
            is_base: token == 1,
            card_technology: tech.to_owned(),
            card_technology_code: code,
            facility_code: fac.to_string(),
            validity_code: "0".to_owned(),
            is_used: true,
            pin_mode: vec![pin_mode(1, "Card"), pin_mode(2, "Pin")],
            pin_mode_value: if token == 3 {
                PinModeValue {
                    r#type: Some(2),
                    name: "PIN".to_owned(),
                    full_name: "PIN".to_owned(),
                }
            } else {
                PinModeValue {
                    r#type: Some(1),
                    name: "CARD".to_owned(),
                    full_name: "CARD".to_owned(),
                }
            },
        });
    }
}

fn workgroup(token: i64, name: &str, kind: i32) -> WorkGroup {
    WorkGroup {
        token,
        name: name.to_owned(),
        r#type: kind,
        access_policy_rules: Vec::new(),
        // Val0429 saw `Partition: true` on every workgroup, "<None>" included.
        partition: true,
        card_range: "-".to_owned(),
        ..WorkGroup::default()
    }
}

/// "<None>" (1), "<Visitor>" (2000000000, Type 3), departments from 2000000001 (every fifth
/// a contractor group), and one more visitor workgroup for the reception desk.
fn workgroups(w: &mut World, p: &Proportions) {
    w.workgroups.insert(workgroup(
        NONE_WORKGROUP_TOKEN,
        "<None>",
        // Val0429: `{"Name": "<None>", "Token": 1, "Type": 0, "Partition": true}`.
        workgroup_type::DEPARTMENT,
    ));
    w.workgroups.insert(workgroup(
        VISITOR_WORKGROUP_TOKEN,
        "<Visitor>",
        workgroup_type::VISITOR,
    ));
    for i in 0..p.departments {
        let base = DEPARTMENTS[(i % DEPARTMENTS.len() as u64) as usize];
        let name = match i / DEPARTMENTS.len() as u64 {
            0 => base.to_owned(),
            n => format!("{base} {}", n + 1),
        };
        let kind = if i % 5 == 4 {
            workgroup_type::CONTRACTOR
        } else {
            workgroup_type::DEPARTMENT
        };
        let mut g = workgroup(0, &name, kind);
        g.primary_contact_name = format!("Head of {name}");
        w.workgroups.create(g);
    }
    w.workgroups.create(workgroup(
        0,
        "Visitors - Reception",
        workgroup_type::VISITOR,
    ));
}

/// Units, their doorsets (readers, lock output, door contact), aux inputs and outputs,
/// banks with floors, APB clusters and areas, intrusion areas, alarm classes.
fn devices(w: &mut World, p: &Proportions) {
    for (name, priority) in [
        ("Duress", 1),
        ("Intrusion", 5),
        ("Door Forced", 10),
        ("Communication", 15),
        ("Tamper", 20),
        ("Power", 25),
        ("Door Held", 30),
        ("Input Alarm", 40),
    ] {
        w.alarm_classes.create(AlarmClass {
            token: String::new(),
            name: name.to_owned(),
            priority,
        });
    }
    let input_alarm_class = "8".to_owned();
    for u in 1..=p.units {
        let doors_here = (p.doorsets - (u - 1) * 8).min(8);
        w.units.create(Unit {
            token: String::new(),
            name: format!("ACC-{u:04}"),
            unit_no: u as i64,
            time_zone: TIME_ZONES[(u % TIME_ZONES.len() as u64) as usize].to_owned(),
            peripherals: peripherals(doors_here),
            comm_state: CommState::Online,
            tamper_state: TamperState::Normal,
            power_state: PowerState::Normal,
        });
        for aux in 1..=2 {
            w.inputs.create(Input {
                name: format!("ACC-{u:04} Aux In {aux}"),
                unit_token: u.to_string(),
                point_no: 100 + aux,
                alarm_class_token: input_alarm_class.clone(),
                ..Input::default()
            });
            w.outputs.create(Output {
                name: format!("ACC-{u:04} Aux Out {aux}"),
                unit_token: u.to_string(),
                point_no: 100 + aux,
                ..Output::default()
            });
        }
    }
    for d in 1..=p.doorsets {
        doorset(w, d);
    }
    for b in 1..=p.banks {
        bank(w, b, p.units);
    }
    for c in 1..=p.apb_clusters {
        apb_cluster(w, c);
    }
    for a in 1..=p.intrusion_areas {
        w.intrusion_areas.create(IntrusionArea {
            name: format!("Area {a:03}"),
            description: format!("Intrusion area of ACC-{a:04}"),
            unit_token: a.to_string(),
            ..IntrusionArea::default()
        });
    }
}

fn peripherals(doors: u64) -> Vec<Peripheral> {
    let mut list: Vec<Peripheral> = (0..doors.div_ceil(2))
        .map(|i| Peripheral {
            address: i as i64 + 1,
            model: "DRI".to_owned(),
            name: format!("Door reader interface {}", i + 1),
        })
        .collect();
    list.push(Peripheral {
        address: list.len() as i64 + 1,
        model: "IOM".to_owned(),
        name: "Input/output module".to_owned(),
    });
    list
}

/// Doorset `d` on unit `(d-1)/8 + 1`: an entry reader (side A), an exit reader (side B) on
/// two doors in three, a lock output and a door contact input.
fn doorset(w: &mut World, d: u64) {
    let unit = (d - 1) / 8 + 1;
    let name = format!("Door {d:04}");
    let reader = |w: &mut World, suffix: &str| {
        let name = format!("{name}_{suffix}");
        let token = w.access_points.create(named(0, name.clone()));
        Reader {
            access_point_token: token.to_string(),
            access_point_name: name,
        }
    };
    let side_a = Some(reader(w, "IN"));
    let side_b = (!d.is_multiple_of(3)).then(|| reader(w, "OUT"));
    let point_no = ((d - 1) % 8 + 1) as i64;
    let lock_name = format!("{name} Lock");
    let lock = w.outputs.create(Output {
        name: lock_name.clone(),
        unit_token: unit.to_string(),
        point_no,
        ..Output::default()
    });
    w.inputs.create(Input {
        name: format!("{name} Contact"),
        unit_token: unit.to_string(),
        point_no,
        ..Input::default()
    });
    w.doorsets.create(Doorset {
        token: String::new(),
        name,
        unit_token: unit.to_string(),
        point_no,
        side_a,
        side_b,
        lock: NamedToken {
            token: lock.to_string(),
            name: lock_name,
        },
        state: DoorsetState::default(),
    });
}

fn bank(w: &mut World, b: u64, units: u64) {
    let name = format!("Bank {b}");
    let floors: Vec<Floor> = (1..=(8 + (b % 5) * 4) as i64)
        .map(|n| {
            let floor_name = format!("{name} Floor {n}");
            let token = w.floor_points.create(named(0, floor_name.clone()));
            Floor {
                floor_point_token: token.to_string(),
                name: floor_name,
                number: n,
            }
        })
        .collect();
    w.floor_point_groups
        .create(named(0, format!("{name} all floors")));
    w.banks.create(Bank {
        token: String::new(),
        name,
        unit_token: ((b - 1) % units + 1).to_string(),
        floors,
    });
}

fn apb_cluster(w: &mut World, c: u64) {
    let cluster_token = w.apb_clusters.create(ApbCluster {
        name: format!("APB cluster {c}"),
        ..ApbCluster::default()
    });
    let areas: Vec<String> = ["Outside", "Lobby", "Secure zone"]
        .iter()
        .map(|area| {
            w.apb_areas
                .create(ApbArea {
                    name: format!("{area} {c}"),
                    cluster_token: cluster_token.to_string(),
                    ..ApbArea::default()
                })
                .to_string()
        })
        .collect();
    if let Some(cluster) = w.apb_clusters.get_mut(cluster_token) {
        cluster.area_tokens = areas;
    }
}

/// Door groups per unit, access levels over them, and access groups over the levels.
fn access(w: &mut World, p: &Proportions) {
    w.access_point_groups.create(named(0, "All doors"));
    for u in 1..=p.units.min(500) {
        w.access_point_groups
            .create(named(0, format!("ACC-{u:04} doors")));
    }
    let groups = w.access_point_groups.len() as u64;
    for l in 1..=p.access_levels {
        let target = (l - 1) % groups + 1;
        let target_name = w
            .access_point_groups
            .get(target)
            .map(|g| g.name.clone())
            .unwrap_or_default();
        let mut rule = access_group_rule(&target.to_string(), &target_name);
        rule.rule_type = 1;
        w.access_levels.create(AccessLevel {
            token: String::new(),
            name: format!("Level {l:03}"),
            time_schedule_token: if l % 3 == 0 { "4" } else { "1" }.to_owned(),
            access_rule: vec![rule],
            ..AccessLevel::default()
        });
    }
    for g in 1..=p.access_groups {
        let levels = (0..4)
            .map(|i| ((g - 1) * 4 + i) % p.access_levels + 1)
            .filter_map(|t| {
                w.access_levels.get(t).map(|l| LevelRef {
                    token: l.token.clone(),
                    name: l.name.clone(),
                    links: Vec::new(),
                })
            })
            .collect();
        w.access_groups.create(AccessGroup {
            token: String::new(),
            name: format!("Group {g:02}"),
            access_levels: levels,
            links: Vec::new(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_site() {
        let spec = SiteSpec {
            cardholders: 50,
            seed: 7,
        };
        let a = site(&spec, SiPassVersion::V2_80);
        let b = site(&spec, SiPassVersion::V2_80);
        let c = site(&SiteSpec { seed: 8, ..spec }, SiPassVersion::V2_80);
        let all = |w: &World| {
            (1..=50)
                .filter_map(|t| w.cardholders.get(t))
                .collect::<Vec<_>>()
        };
        assert_eq!(all(&a), all(&b));
        assert_ne!(all(&a), all(&c));
        assert_eq!(all(&a)[0].token, "1");
        assert_eq!(all(&a)[49].token, "50");
    }

    #[test]
    fn names_match_the_whole_cardholder() {
        let w = site(&SiteSpec::default(), SiPassVersion::V2_70);
        for t in [1, 2, 97, 500] {
            let c = w.cardholders.get(t).unwrap();
            let (f, l) = w.cardholders.names(t).unwrap();
            assert_eq!((c.first_name, c.last_name), (f, l));
            assert_eq!(c.status, 61);
        }
        assert!(w.cardholders.get(97).unwrap().attributes.visitor);
    }

    #[test]
    fn proportions_are_bounded() {
        let p = Proportions::for_cardholders(1_000_000);
        assert_eq!((p.doorsets, p.units), (20_000, 2_500));
        let small = Proportions::for_cardholders(10);
        assert_eq!((small.doorsets, small.units), (8, 1));
    }
}
