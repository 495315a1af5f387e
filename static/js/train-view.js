// @ts-check
// The training view: the form (train-form.js), the runs list (train-runs.js), the open run
// live (train-live.js, following it with train-follow.js) and what it learned
// (train-insights.js). This module only wires them: each section is given the open run
// through the few calls its header names; no section imports another (they share only
// train-text.js's words).

import { Insights } from "./train-insights.js";
import { LiveRunView } from "./train-live.js";
import { RunsList } from "./train-runs.js";
import { TrainForm } from "./train-form.js";

/** @typedef {import("./api.js").TrainConfig} TrainConfig */

export class TrainView {
  constructor() {
    /** @type {TrainForm} */
    this.form = new TrainForm({
      openConfig: () => (this.live.run ? this.live.run.config : null),
      started: async (id, config) => {
        await this.runs.load();
        await this.open(id, config);
      },
    });
    /** @type {RunsList} */
    this.runs = new RunsList({
      openId: () => (this.live.run ? this.live.run.id : null),
      open: (id) => this.open(id),
      deleted: (id) => this.live.deleted(id),
      overlaysChanged: () => this.live.drawCharts(),
    });
    /** @type {LiveRunView} */
    this.live = new LiveRunView({
      datasetTitle: (name) => this.form.datasetTitle(name),
      insteadHint: (done) => this.form.insteadHint(done),
      overlays: () => this.runs.overlays(),
      rendered: () => this.form.updateButtons(),
      queueMoved: () => this.runs.load(),
      ended: () => {
        this.runs.load();
        this.insights.show();
      },
      renamed: (id, name) => {
        this.runs.renamed(id, name);
        this.runs.load();
      },
    });
    /** @type {Insights} */
    this.insights = new Insights({ inspectable: () => this.live.inspectable() });
  }

  async init() {
    this.live.bind();
    this.insights.bind();
    await Promise.all([this.form.init(), this.runs.init()]);
    const latest = this.runs.runs[0];
    if (latest) await this.open(latest.id, undefined, true);
    else this.live.drawCharts();
  }

  /**
   * Show a run: its header, charts and numbers, its settings in the form, its row marked in
   * the list, and what it learned once it has ended.
   * @param {string} id
   * @param {TrainConfig} [config] what was just posted, shown until the run's record arrives
   * @param {boolean} [first] the lab's newest run, shown as the view opens: its settings do not
   *   replace what the learner has typed in the form meanwhile
   */
  async open(id, config, first = false) {
    this.runs.opened(id);
    const run = await this.live.open(id, config, this.runs.find(id));
    if (!run) return; // another run was opened meanwhile
    // The form follows the run that is open: its settings, ready to train again.
    if (run.config.iterations && !(first && this.form.edited)) this.form.fill(run.config);
    this.runs.render();
    this.insights.show();
  }

  relabel() {
    this.form.relabel();
    this.runs.render();
    this.live.relabel();
    this.insights.relabel();
  }

  onShow() {
    this.live.drawCharts();
    this.runs.load();
  }
}
