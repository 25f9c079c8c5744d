//! Everything the simulated SiPass server holds: cardholders, reference data, devices and
//! alarms. Plain data; `Site` adds the lock, the push channel and the rules for changing it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use model::management::{
    Alarm, AlarmClass, ApbArea, ApbCluster, Bank, Doorset, Input, IntrusionArea, ObjectKind,
    Output, Unit,
};
use model::sipass::{
    AccessGroup, AccessLevel, CardTechnology, CredentialProfile, NamedToken, WorkGroup,
};

use crate::cardholders::Cardholders;
use crate::people::Generator;
use crate::table::{AnyTable, Table};

/// How many alarms that are no longer active are remembered (so that acknowledging one
/// again still answers 200).
const INACTIVE_ALARMS_KEPT: usize = 10_000;

pub struct World {
    pub cardholders: Cardholders,
    pub workgroups: Table<WorkGroup>,
    pub access_levels: Table<AccessLevel>,
    pub access_groups: Table<AccessGroup>,
    pub access_points: Table<NamedToken>,
    pub access_point_groups: Table<NamedToken>,
    pub floor_points: Table<NamedToken>,
    pub floor_point_groups: Table<NamedToken>,
    pub time_schedules: Table<NamedToken>,
    pub card_technologies: Table<CardTechnology>,
    pub credential_profiles: Table<CredentialProfile>,
    pub units: Table<Unit>,
    pub doorsets: Table<Doorset>,
    pub banks: Table<Bank>,
    pub apb_clusters: Table<ApbCluster>,
    pub apb_areas: Table<ApbArea>,
    pub intrusion_areas: Table<IntrusionArea>,
    pub inputs: Table<Input>,
    pub outputs: Table<Output>,
    pub alarm_classes: Table<AlarmClass>,
    pub alarms: Alarms,
    pub next_alarm_id: u64,
    /// The next audit-trail `Id`.
    pub next_event_id: u64,
}

impl World {
    /// A world with no objects; cardholders come from `generator` later.
    pub fn empty(generator: Generator) -> Self {
        World {
            cardholders: Cardholders::generated(generator, 0),
            workgroups: Table::new(2_000_000_001),
            access_levels: Table::new(1),
            access_groups: Table::new(1),
            access_points: Table::new(1),
            access_point_groups: Table::new(1),
            floor_points: Table::new(1),
            floor_point_groups: Table::new(1),
            time_schedules: Table::new(1),
            card_technologies: Table::new(100),
            credential_profiles: Table::new(1),
            units: Table::new(1),
            doorsets: Table::new(1),
            banks: Table::new(1),
            apb_clusters: Table::new(1),
            apb_areas: Table::new(1),
            intrusion_areas: Table::new(1),
            inputs: Table::new(1),
            outputs: Table::new(1),
            alarm_classes: Table::new(1),
            alarms: Alarms::default(),
            next_alarm_id: 1,
            next_event_id: 1,
        }
    }

    /// The table of `kind`; `None` for cardholders, which have their own store.
    pub fn table(&self, kind: ObjectKind) -> Option<&dyn AnyTable> {
        Some(match kind {
            ObjectKind::Cardholder => return None,
            ObjectKind::WorkGroup => &self.workgroups,
            ObjectKind::AccessLevel => &self.access_levels,
            ObjectKind::AccessGroup => &self.access_groups,
            ObjectKind::AccessPoint => &self.access_points,
            ObjectKind::AccessPointGroup => &self.access_point_groups,
            ObjectKind::FloorPoint => &self.floor_points,
            ObjectKind::FloorPointGroup => &self.floor_point_groups,
            ObjectKind::TimeSchedule => &self.time_schedules,
            ObjectKind::CardTechnology => &self.card_technologies,
            ObjectKind::CredentialProfile => &self.credential_profiles,
            ObjectKind::Unit => &self.units,
            ObjectKind::Doorset => &self.doorsets,
            ObjectKind::Bank => &self.banks,
            ObjectKind::ApbCluster => &self.apb_clusters,
            ObjectKind::ApbArea => &self.apb_areas,
            ObjectKind::IntrusionArea => &self.intrusion_areas,
            ObjectKind::Input => &self.inputs,
            ObjectKind::Output => &self.outputs,
            ObjectKind::AlarmClass => &self.alarm_classes,
        })
    }

    /// The table of `kind`, for changing; `None` for cardholders.
    pub fn table_mut(&mut self, kind: ObjectKind) -> Option<&mut dyn AnyTable> {
        Some(match kind {
            ObjectKind::Cardholder => return None,
            ObjectKind::WorkGroup => &mut self.workgroups,
            ObjectKind::AccessLevel => &mut self.access_levels,
            ObjectKind::AccessGroup => &mut self.access_groups,
            ObjectKind::AccessPoint => &mut self.access_points,
            ObjectKind::AccessPointGroup => &mut self.access_point_groups,
            ObjectKind::FloorPoint => &mut self.floor_points,
            ObjectKind::FloorPointGroup => &mut self.floor_point_groups,
            ObjectKind::TimeSchedule => &mut self.time_schedules,
            ObjectKind::CardTechnology => &mut self.card_technologies,
            ObjectKind::CredentialProfile => &mut self.credential_profiles,
            ObjectKind::Unit => &mut self.units,
            ObjectKind::Doorset => &mut self.doorsets,
            ObjectKind::Bank => &mut self.banks,
            ObjectKind::ApbCluster => &mut self.apb_clusters,
            ObjectKind::ApbArea => &mut self.apb_areas,
            ObjectKind::IntrusionArea => &mut self.intrusion_areas,
            ObjectKind::Input => &mut self.inputs,
            ObjectKind::Output => &mut self.outputs,
            ObjectKind::AlarmClass => &mut self.alarm_classes,
        })
    }
}

/// Every alarm by id, active or recently finished, with an index of the active ones so that
/// listing or counting them, and forgetting old finished ones, never walks every alarm (the
/// event generator raises thousands a second).
#[derive(Default)]
pub struct Alarms {
    by_id: BTreeMap<u64, Alarm>,
    active: BTreeSet<u64>,
    /// Finished alarms, oldest first, forgotten beyond `INACTIVE_ALARMS_KEPT`.
    finished: VecDeque<u64>,
    /// Acknowledge requests received per alarm (repeats included, although they change
    /// nothing), forgotten with the alarm: what a test counts to prove a client sent one once.
    ack_requests: BTreeMap<u64, u32>,
}

impl Alarms {
    /// Adds a newly raised alarm.
    pub fn raise(&mut self, id: u64, alarm: Alarm) {
        self.by_id.insert(id, alarm);
        self.active.insert(id);
    }

    /// One alarm, active or recently finished.
    pub fn get(&self, id: u64) -> Option<&Alarm> {
        self.by_id.get(&id)
    }

    /// Changes an alarm with `change`; an alarm that is now both acknowledged and cleared
    /// leaves the active ones, and the oldest finished beyond what is kept are forgotten.
    pub fn update<T>(&mut self, id: u64, change: impl FnOnce(&mut Alarm) -> T) -> Option<T> {
        let alarm = self.by_id.get_mut(&id)?;
        let result = change(alarm);
        if alarm.acknowledged && alarm.cleared && self.active.remove(&id) {
            self.finished.push_back(id);
            while self.finished.len() > INACTIVE_ALARMS_KEPT {
                if let Some(old) = self.finished.pop_front() {
                    self.by_id.remove(&old);
                    self.ack_requests.remove(&old);
                }
            }
        }
        Some(result)
    }

    /// The active alarms (raised and not yet both acknowledged and cleared), oldest first.
    pub fn active(&self) -> impl Iterator<Item = &Alarm> {
        self.active.iter().filter_map(|id| self.by_id.get(id))
    }

    /// Counts an acknowledge request for an alarm that exists.
    pub fn count_ack_request(&mut self, id: u64) {
        if self.by_id.contains_key(&id) {
            *self.ack_requests.entry(id).or_default() += 1;
        }
    }

    /// How many acknowledge requests an alarm received.
    pub fn ack_requests(&self, id: u64) -> u32 {
        self.ack_requests.get(&id).copied().unwrap_or(0)
    }

    /// How many alarms are active.
    pub fn active_count(&self) -> usize {
        self.active.len()
    }

    /// The id of the oldest active alarm.
    pub fn oldest_active(&self) -> Option<u64> {
        self.active.first().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finish(alarms: &mut Alarms, id: u64) {
        alarms.update(id, |a| {
            a.acknowledged = true;
            a.cleared = true;
        });
    }

    #[test]
    fn finished_alarms_leave_the_active_ones_and_the_oldest_are_forgotten() {
        let mut alarms = Alarms::default();
        let total = INACTIVE_ALARMS_KEPT as u64 + 3;
        for id in 1..=total {
            alarms.raise(id, Alarm::default());
        }
        assert_eq!(alarms.active_count(), total as usize);
        for id in 1..total {
            finish(&mut alarms, id);
        }
        assert_eq!(alarms.active_count(), 1);
        assert_eq!(alarms.oldest_active(), Some(total));
        assert_eq!(alarms.active().count(), 1);
        // Acknowledged and cleared alarms are remembered, up to INACTIVE_ALARMS_KEPT.
        assert!(alarms.get(1).is_none() && alarms.get(2).is_none());
        assert!(alarms.get(3).is_some_and(|a| a.acknowledged && a.cleared));
        // Updating a finished alarm again does not count it twice.
        finish(&mut alarms, 3);
        assert!(alarms.get(3).is_some());
    }
}
