// The 3D view of a part: three.js, orbit and zoom, DFM findings marked where they are.
// The mesh comes from GET /v1/parts/{id}/mesh (binary STL in mm, the frame of location_mm).
import * as THREE from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { STLLoader } from "three/addons/loaders/STLLoader.js";

const SEVERITY_COLOURS = { error: 0xb3261e, warning: 0xd18a00, info: 0x3b5b8c };

function labelSprite(text, colour) {
  const canvas = document.createElement("canvas");
  canvas.width = 64;
  canvas.height = 64;
  const g = canvas.getContext("2d");
  g.fillStyle = `#${colour.toString(16).padStart(6, "0")}`;
  g.beginPath();
  g.arc(32, 32, 28, 0, Math.PI * 2);
  g.fill();
  g.lineWidth = 4;
  g.strokeStyle = "#ffffff";
  g.stroke();
  g.fillStyle = "#ffffff";
  g.font = "bold 30px sans-serif";
  g.textAlign = "center";
  g.textBaseline = "middle";
  g.fillText(text, 32, 34);
  const material = new THREE.SpriteMaterial({ map: new THREE.CanvasTexture(canvas), depthTest: false, transparent: true });
  const sprite = new THREE.Sprite(material);
  sprite.renderOrder = 10;
  return sprite;
}

export class PartViewer {
  /** @param {HTMLElement} container  @param {{label: string, onPick?: (i: number) => void}} opts */
  constructor(container, opts) {
    this.container = container;
    this.onPick = opts.onPick || (() => {});
    this.renderer = new THREE.WebGLRenderer({ antialias: true, alpha: true, preserveDrawingBuffer: true });
    this.renderer.setClearColor(0x000000, 0); // the container's CSS gradient shows through
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
    const canvas = this.renderer.domElement;
    canvas.tabIndex = 0;
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", opts.label);
    container.append(canvas);
    this.scene = new THREE.Scene();
    this.camera = new THREE.PerspectiveCamera(35, 1, 0.1, 100000);
    this.scene.add(new THREE.HemisphereLight(0xffffff, 0x7a8494, 1.6));
    const key = new THREE.DirectionalLight(0xffffff, 1.8);
    key.position.set(1, 1.5, 2);
    this.camera.add(key);
    this.scene.add(this.camera);
    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.enableDamping = false;
    this.controls.listenToKeyEvents(canvas); // arrow keys pan
    this.controls.addEventListener("change", () => this.render());
    canvas.addEventListener("keydown", (e) => {
      if (e.key === "+" || e.key === "=") this.zoom(0.8);
      else if (e.key === "-" || e.key === "_") this.zoom(1.25);
      else if (e.key === "0") this.resetView();
      else return;
      e.preventDefault();
    });
    canvas.addEventListener("click", (e) => this.pick(e));
    this.markers = new THREE.Group();
    this.scene.add(this.markers);
    this.mesh = null;
    this.resizer = new ResizeObserver(() => this.resize());
    this.resizer.observe(container);
    this.resize();
  }

  async load(url) {
    const res = await fetch(url, { credentials: "same-origin" });
    if (!res.ok) throw new Error(`mesh: HTTP ${res.status}`);
    const geometry = new STLLoader().parse(await res.arrayBuffer());
    geometry.computeVertexNormals();
    geometry.computeBoundingBox();
    if (this.mesh) {
      this.scene.remove(this.mesh);
      this.mesh.geometry.dispose();
    }
    const material = new THREE.MeshStandardMaterial({ color: 0x9fb3c8, metalness: 0.35, roughness: 0.45, flatShading: true });
    this.mesh = new THREE.Mesh(geometry, material);
    this.scene.add(this.mesh);
    const box = geometry.boundingBox;
    this.center = box.getCenter(new THREE.Vector3());
    this.size = box.getSize(new THREE.Vector3()).length() || 1;
    this.camera.near = this.size / 1000;
    this.camera.far = this.size * 100;
    this.resetView();
    this.container.dataset.triangles = String(geometry.attributes.position.count / 3);
    this.container.dataset.state = "ready";
    return geometry.attributes.position.count / 3;
  }

  resetView() {
    if (!this.center) return;
    const d = this.size * 1.6;
    this.camera.position.copy(this.center).add(new THREE.Vector3(0.9, -1.1, 0.8).normalize().multiplyScalar(d));
    this.camera.up.set(0, 0, 1); // CAD parts are Z-up
    this.camera.updateProjectionMatrix();
    this.controls.target.copy(this.center);
    this.controls.update();
    this.render();
  }

  zoom(factor) {
    const offset = this.camera.position.clone().sub(this.controls.target).multiplyScalar(factor);
    this.camera.position.copy(this.controls.target).add(offset);
    this.controls.update();
    this.render();
  }

  /** Mark findings: [{index, severity, location_mm: [x, y, z]}] (index is the list number). */
  setMarkers(findings) {
    for (const child of [...this.markers.children]) {
      this.markers.remove(child);
      child.material.map?.dispose();
      child.material.dispose();
    }
    const scale = (this.size || 100) * 0.06;
    for (const f of findings) {
      if (!f.location_mm) continue;
      const sprite = labelSprite(String(f.index), SEVERITY_COLOURS[f.severity] ?? SEVERITY_COLOURS.info);
      sprite.position.set(...f.location_mm);
      sprite.scale.setScalar(scale);
      sprite.userData = { index: f.index, base: scale };
      this.markers.add(sprite);
    }
    this.container.dataset.markers = String(this.markers.children.length);
    this.render();
  }

  highlight(index) {
    for (const m of this.markers.children) {
      m.scale.setScalar(m.userData.index === index ? m.userData.base * 1.7 : m.userData.base);
    }
    this.render();
  }

  pick(event) {
    const rect = this.renderer.domElement.getBoundingClientRect();
    const pointer = new THREE.Vector2(((event.clientX - rect.left) / rect.width) * 2 - 1, -((event.clientY - rect.top) / rect.height) * 2 + 1);
    const ray = new THREE.Raycaster();
    ray.setFromCamera(pointer, this.camera);
    const hit = ray.intersectObjects(this.markers.children, false)[0];
    if (hit) this.onPick(hit.object.userData.index);
  }

  resize() {
    const w = this.container.clientWidth || 400;
    const hgt = this.container.clientHeight || 300;
    this.renderer.setSize(w, hgt, false);
    this.camera.aspect = w / hgt;
    this.camera.updateProjectionMatrix();
    this.render();
  }

  render() {
    this.renderer.render(this.scene, this.camera);
  }

  dispose() {
    this.resizer.disconnect();
    this.controls.dispose();
    this.mesh?.geometry.dispose();
    this.renderer.dispose();
  }
}
