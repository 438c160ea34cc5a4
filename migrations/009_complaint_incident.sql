-- A complaint's incident: a merge moves the merged incident's complaints by it, and crew
-- notifications find an incident's complainants by it.
CREATE INDEX complaint_incident ON complaint (incident_id) WHERE incident_id IS NOT NULL;
