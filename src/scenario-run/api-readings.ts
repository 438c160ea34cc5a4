// The parts of the API's answers a scenario run reads, and readings of them taken while the
// scenario plays. The runner sees the system only through GET requests, as a dispatcher's
// screen would; these types name just the fields the expectation checks use.

export interface ApiIncident {
  id: string;
  zone: string | null;
  kind: string;
  opened_at: string;
  closed_at: string | null;
  priority: string;
  score: number;
  reasons: Array<{ factor: string; points: number }>;
  complaint_ids: string[];
  anomaly_ids: string[];
  work_order_id: string | null;
}

export interface ApiWorkOrder {
  id: string;
  code: string;
  incident_id: string | null;
  job_type: string;
  priority: string;
  zone: string | null;
  status: string;
  crew: string | null;
  created_at: string;
  assigned_at: string | null;
}

export interface ApiAnomaly {
  id: string;
  kind: string;
  tag: string | null;
  zone: string | null;
  start: string;
  end: string | null;
}

export interface ApiComplaint {
  id: string;
  external_id: string | null;
  reported_at: string;
  zone: string | null;
  incident_id: string | null;
}

export interface ApiCrew {
  id: string;
  skills: string[];
}

/** What the queue showed at one moment. */
export interface Reading {
  /** Simulated seconds from the scenario's start when the answers were complete. */
  atS: number;
  incidents: ApiIncident[];
  workOrders: ApiWorkOrder[];
}

/** The last reading, after the last window closed, with everything the checks look up. */
export interface FinalReading extends Reading {
  anomalies: ApiAnomaly[];
  complaints: ApiComplaint[];
  crews: ApiCrew[];
  /** Incidents merged away (a complaint may still name one) and the incident each went into. */
  mergedInto: Record<string, string>;
}

/** GETs against a Tirta API with a bearer key; any answer but 200 is an error naming the route. */
export class ApiReader {
  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string,
  ) {}

  async get<T>(route: string): Promise<T> {
    const response = await fetch(`${this.baseUrl}/api/v1${route}`, { headers: { authorization: `Bearer ${this.apiKey}` } });
    if (response.status !== 200) throw new Error(`GET /api/v1${route} answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
    return (await response.json()) as T;
  }

  async queue(): Promise<{ incidents: ApiIncident[]; workOrders: ApiWorkOrder[] }> {
    const [incidents, workOrders] = await Promise.all([
      this.get<{ incidents: ApiIncident[] }>('/incidents?limit=1000'),
      this.get<{ work_orders: ApiWorkOrder[] }>('/work-orders?limit=1000'),
    ]);
    return { incidents: incidents.incidents, workOrders: workOrders.work_orders };
  }

  async final(atS: () => number, complaintsFrom: string, complaintsTo: string): Promise<FinalReading> {
    const queue = await this.queue();
    const [anomalies, complaints, crews] = await Promise.all([
      this.get<{ anomalies: ApiAnomaly[] }>('/anomalies?limit=1000'),
      this.get<{ complaints: ApiComplaint[] }>(`/complaints?limit=1000&from=${encodeURIComponent(complaintsFrom)}&to=${encodeURIComponent(complaintsTo)}`),
      this.get<{ crews: ApiCrew[] }>('/crews'),
    ]);
    const listed = new Set(queue.incidents.map((incident) => incident.id));
    const mergedInto: Record<string, string> = {};
    const unknown = [...new Set(complaints.complaints.map((complaint) => complaint.incident_id).filter((id): id is string => id !== null && !listed.has(id)))];
    for (let next = unknown.pop(); next !== undefined; next = unknown.pop()) {
      const incident = await this.get<{ merged_into: string | null }>(`/incidents/${encodeURIComponent(next)}`);
      if (incident.merged_into === null) continue;
      mergedInto[next] = incident.merged_into;
      if (!listed.has(incident.merged_into) && !(incident.merged_into in mergedInto)) unknown.push(incident.merged_into);
    }
    return { atS: atS(), ...queue, anomalies: anomalies.anomalies, complaints: complaints.complaints, crews: crews.crews, mergedInto };
  }
}
